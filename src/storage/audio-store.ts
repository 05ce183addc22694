import { openAsBlob } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AUDIO_FILE_ERROR } from '../../workflows/contract';

/** A chunk's file cannot be used: missing, unreadable, too large or outside the audio root. Never retried. */
export class AudioFileError extends Error {
  override readonly name = AUDIO_FILE_ERROR;
}

/** One chunk's audio, streamed from disk when read; `name` is its path relative to the audio root. */
export interface ChunkAudio {
  name: string;
  size: number;
  file: Blob;
}

const MAX_PATH_LENGTH = 1024;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Checks a client-given chunk path without touching the disk and returns it normalized, relative to the root.
 * Throws an {@link AudioFileError} saying why when it is empty, absolute, or would leave the root.
 */
export function normalizeChunkPath(chunkPath: string): string {
  if (chunkPath.length === 0) throw new AudioFileError('path is empty');
  if (chunkPath.length > MAX_PATH_LENGTH) throw new AudioFileError(`path is longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL_CHARACTERS.test(chunkPath)) throw new AudioFileError('path contains control characters');
  if (path.isAbsolute(chunkPath) || /^[a-zA-Z]:/.test(chunkPath)) {
    throw new AudioFileError('path must be relative to the audio root');
  }
  const normalized = path.posix.normalize(chunkPath.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith('../')) throw new AudioFileError('path leaves the audio root');
  if (normalized === '.' || normalized.endsWith('/')) throw new AudioFileError('path names a folder, not a file');
  return normalized;
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** Reads chunk audio from under one root folder, refusing anything that resolves outside it (symlinks included). */
export class AudioStore {
  constructor(private readonly options: { root: string; maxChunkBytes: number }) {}

  /** The real path of a chunk's file, or an {@link AudioFileError}; checked where the file is opened. */
  async resolve(chunkPath: string): Promise<{ name: string; realPath: string }> {
    const name = normalizeChunkPath(chunkPath);
    const root = await this.realRoot();
    let realPath: string;
    try {
      realPath = await realpath(path.join(root, name));
    } catch (err) {
      throw new AudioFileError(`cannot open ${name}: ${describeFsError(err)}`);
    }
    if (!isInside(root, realPath)) throw new AudioFileError(`${name} resolves outside the audio root`);
    return { name, realPath };
  }

  /** Opens a chunk for streaming; its size is checked here so an oversized file fails before any upload. */
  async open(chunkPath: string): Promise<ChunkAudio> {
    const { name, realPath } = await this.resolve(chunkPath);
    try {
      const info = await stat(realPath);
      if (!info.isFile()) throw new AudioFileError(`${name} is not a regular file`);
      if (info.size > this.options.maxChunkBytes) {
        throw new AudioFileError(`${name} is ${info.size} bytes, over the limit of ${this.options.maxChunkBytes}`);
      }
      return { name, size: info.size, file: await openAsBlob(realPath) };
    } catch (err) {
      if (err instanceof AudioFileError) throw err;
      throw new AudioFileError(`cannot read ${name}: ${describeFsError(err)}`);
    }
  }

  private async realRoot(): Promise<string> {
    try {
      return await realpath(this.options.root);
    } catch (err) {
      throw new AudioFileError(`the audio root is not readable: ${describeFsError(err)}`);
    }
  }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (err instanceof Error ? err.message : String(err));
}
