import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { wavBytes } from '../../bench/wav-file';

/** A fresh folder under the OS temp dir for one test file. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `transcription-${prefix}-`));
}

/** Writes a short WAV chunk (0.1 s, or `bytes` long) and, if given, its ASR simulator sidecar transcript. */
export async function writeChunk(root: string, name: string, options: { transcript?: string; bytes?: number } = {}) {
  const file = path.join(root, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, wavBytes(options.bytes === undefined ? { seconds: 0.1 } : { bytes: options.bytes }));
  if (options.transcript !== undefined) await writeFile(`${file}.txt`, options.transcript);
  return name;
}
