import { constants, openAsBlob } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AUDIO_FILE_ERROR } from '../../workflows/contract';
import { AudioProbeError, fileReader, probeAudio, type AudioProbe } from '../audio/audio-probe';

/** What is wrong with a chunk's file; the API answers each with its own status. */
export type AudioFileProblem =
  | 'invalid_path'
  | 'not_found'
  | 'outside_root'
  | 'not_a_file'
  | 'unreadable'
  | 'too_large'
  | 'unsupported_format'
  | 'corrupt'
  | 'too_long';

/** A chunk's file cannot be used: missing, unreadable, not audio, too large or long, or outside the root. Never retried. */
export class AudioFileError extends Error {
  override readonly name = AUDIO_FILE_ERROR;
  constructor(
    message: string,
    readonly problem: AudioFileProblem = 'unreadable',
  ) {
    super(message);
  }
}

/** A chunk's file as checked: where it is, how big, and what audio it holds. */
export interface InspectedAudio {
  name: string;
  realPath: string;
  size: number;
  audio: AudioProbe;
}

/** One chunk's audio, streamed from disk when read; `name` is its path relative to the audio root. */
export interface ChunkAudio {
  name: string;
  size: number;
  file: Blob;
  audio: AudioProbe;
}

export interface AudioStoreOptions {
  root: string;
  maxChunkBytes: number;
  maxChunkSeconds: number;
}

const MAX_PATH_LENGTH = 1024;
// C0 and C1 controls, and Unicode's line/paragraph separators: nothing a file name needs, and log-forging material.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Checks a client-given chunk path without touching the disk and returns it normalized, relative to the root.
 * Throws an {@link AudioFileError} saying why when it is empty, absolute, or would leave the root.
 */
export function normalizeChunkPath(chunkPath: string): string {
  const invalid = (message: string) => new AudioFileError(message, 'invalid_path');
  if (chunkPath.length === 0) throw invalid('path is empty');
  if (chunkPath.length > MAX_PATH_LENGTH) throw invalid(`path is longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL_CHARACTERS.test(chunkPath)) throw invalid('path contains control characters');
  if (!chunkPath.isWellFormed()) throw invalid('path is not well-formed Unicode');
  // One path names one file: a decomposed spelling of the same name would otherwise pass as a different path.
  if (chunkPath.normalize('NFC') !== chunkPath) throw invalid('path must be NFC-normalized Unicode');
  if (path.isAbsolute(chunkPath) || /^[a-zA-Z]:/.test(chunkPath))
    throw invalid('path must be relative to the audio root');
  const normalized = path.posix.normalize(chunkPath.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith('../')) throw invalid('path leaves the audio root');
  if (normalized === '.' || normalized.endsWith('/')) throw invalid('path names a folder, not a file');
  return normalized;
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Reads chunk audio from under one root folder, refusing anything that resolves outside it (symlinks included)
 * and anything that is not audio within the limits. The API inspects files at submission and the worker again
 * where it opens them, since a file may change between the two.
 */
export class AudioStore {
  constructor(private readonly options: AudioStoreOptions) {}

  /** The real path of a chunk's file, or an {@link AudioFileError}. */
  async resolve(chunkPath: string): Promise<{ name: string; realPath: string; realRoot: string }> {
    const name = normalizeChunkPath(chunkPath);
    const root = await this.realRoot();
    let realPath: string;
    try {
      realPath = await realpath(path.join(root, name));
    } catch (err) {
      throw fsError(name, err);
    }
    if (!isInside(root, realPath)) throw new AudioFileError(`${name} resolves outside the audio root`, 'outside_root');
    return { name, realPath, realRoot: root };
  }

  /** Checks a chunk's file: inside the root, a regular file, a supported audio format, within size and duration. */
  async inspect(chunkPath: string): Promise<InspectedAudio> {
    const { name, realPath, realRoot } = await this.resolve(chunkPath);
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the real path has no symlink left in its last component, so one appearing there is an attack.
      // O_NONBLOCK: a FIFO planted in the root would otherwise hang the open forever.
      handle = await open(realPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw fsError(name, err);
    }
    try {
      await checkOpenedInsideRoot(name, handle, realRoot);
      const info = await handle.stat();
      if (!info.isFile()) throw new AudioFileError(`${name} is not a regular file`, 'not_a_file');
      if (info.size > this.options.maxChunkBytes) {
        throw new AudioFileError(
          `${name} is ${info.size} bytes, over the limit of ${this.options.maxChunkBytes}`,
          'too_large',
        );
      }
      const audio = await probe(name, handle, info.size);
      if (audio.durationSeconds > this.options.maxChunkSeconds) {
        throw new AudioFileError(
          `${name} is ${audio.durationSeconds.toFixed(1)} s long, over the limit of ${this.options.maxChunkSeconds} s`,
          'too_long',
        );
      }
      return { name, realPath, size: info.size, audio };
    } catch (err) {
      if (err instanceof AudioFileError) throw err;
      throw fsError(name, err);
    } finally {
      await handle.close();
    }
  }

  /** Inspects a chunk and opens it for streaming, so a bad file fails before any upload. */
  async open(chunkPath: string): Promise<ChunkAudio> {
    const { name, realPath, size, audio } = await this.inspect(chunkPath);
    try {
      return { name, size, audio, file: await openAsBlob(realPath) };
    } catch (err) {
      throw fsError(name, err);
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

/**
 * Where the kernel can say which file a descriptor opened (Linux), checks that one too: a folder swapped for a
 * symlink between `realpath` and `open` would otherwise slip through.
 */
async function checkOpenedInsideRoot(name: string, handle: FileHandle, realRoot: string): Promise<void> {
  if (process.platform !== 'linux') return;
  const opened = await readlink(`/proc/self/fd/${handle.fd}`);
  if (!isInside(realRoot, opened)) {
    throw new AudioFileError(`${name} resolves outside the audio root`, 'outside_root');
  }
}

async function probe(name: string, handle: FileHandle, size: number): Promise<AudioProbe> {
  try {
    return await probeAudio(fileReader(handle, size), size);
  } catch (err) {
    if (!(err instanceof AudioProbeError)) throw err;
    if (err.kind === 'corrupt') throw new AudioFileError(`${name}: ${err.message}`, 'corrupt');
    // The probe's message is the one place the supported formats are listed.
    throw new AudioFileError(`${name} is ${err.message}`, 'unsupported_format');
  }
}

function fsError(name: string, err: unknown): AudioFileError {
  if (err instanceof AudioFileError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new AudioFileError(`cannot open ${name}: no such file`, 'not_found');
  if (code === 'ELOOP') return new AudioFileError(`${name} resolves outside the audio root`, 'outside_root');
  return new AudioFileError(`cannot read ${name}: ${describeFsError(err)}`);
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (err instanceof Error ? err.message : String(err));
}
