import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A fresh folder under the OS temp dir for one test file. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `transcription-${prefix}-`));
}

/** Writes a fake audio file (random-looking bytes) and, if given, its simulator sidecar transcript. */
export async function writeChunk(root: string, name: string, options: { transcript?: string; bytes?: number } = {}) {
  const file = path.join(root, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(options.bytes ?? 1024, 7));
  if (options.transcript !== undefined) await writeFile(`${file}.txt`, options.transcript);
  return name;
}
