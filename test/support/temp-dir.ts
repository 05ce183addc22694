import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { wavBytes } from '../../bench/wav-file';
import { withTranscriptTag } from '../../src/asr/simulated-transcript';

/** A fresh folder under the OS temp dir for one test file. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `transcription-${prefix}-`));
}

export interface ChunkOptions {
  /** What the ASR simulator answers for it, tagged into the file. */
  transcript?: string;
  /** The file's whole size in bytes (0.1 s of audio otherwise). */
  bytes?: number;
}

/** A short WAV chunk (0.1 s, or `bytes` long), tagged with the transcript the ASR simulator should give for it. */
export function chunkBytes(options: ChunkOptions = {}): Buffer {
  const wav = wavBytes(options.bytes === undefined ? { seconds: 0.1 } : { bytes: options.bytes });
  return options.transcript === undefined ? wav : withTranscriptTag(wav, options.transcript);
}

/** Writes a chunk (see {@link chunkBytes}) at `name` under a folder. */
export async function writeChunk(root: string, name: string, options: ChunkOptions = {}) {
  const file = path.join(root, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, chunkBytes(options));
  return name;
}
