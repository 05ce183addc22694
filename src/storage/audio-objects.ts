import type { ReadAt } from '../audio/audio-probe';
import type { AudioKey } from './audio-paths';

/** A stored file as a listing sees it. `path` is relative to its space. */
export interface StoredAudio {
  path: string;
  size: number;
  /** Changes whenever the content is replaced. */
  etag: string;
  modifiedTime: Date;
}

/**
 * One version of a stored file, opened for reading. Every read, positional or whole, returns that version's bytes
 * or fails with {@link AudioObjectChangedError}: what was checked is what is sent.
 */
export interface OpenedAudio {
  size: number;
  etag: string;
  modifiedTime: Date;
  readAt: ReadAt;
  /** The whole content, streamed; never buffered whole. */
  stream(): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Nothing readable at that key for that space: missing, a folder, not a regular file, or resolving outside the
 * space. Deliberately one error, so no caller can tell these apart.
 */
export class AudioObjectMissingError extends Error {
  constructor() {
    super('no such audio file');
    this.name = 'AudioObjectMissingError';
  }
}

/** The file was replaced while it was being read; reading it again gets the new version. */
export class AudioObjectChangedError extends Error {
  constructor(readonly key: string) {
    super(`${key} was replaced while it was being read`);
    this.name = 'AudioObjectChangedError';
  }
}

export interface ListOptions {
  /** Only paths that start with this (inside the space). */
  prefix: string;
  /** Only paths after this one, in the store's order (UTF-8 bytes). */
  startAfter?: string;
  limit: number;
}

/** A presigned request that stores one file without passing its bytes through the API. */
export interface PresignedUpload {
  url: string;
  method: 'PUT';
  /** Headers the client must send as they are: they are part of the signature. */
  headers: Record<string, string>;
}

/**
 * Where audio files are kept: a folder (`LocalAudioObjects`) or an S3 bucket (`S3AudioObjects`). Keys are always
 * a space and a normalized path; the implementations never let a key reach outside its space.
 */
export interface AudioObjects {
  readonly kind: 'local' | 's3';
  /** Opens the current version of a file, or throws {@link AudioObjectMissingError}. */
  open(key: AudioKey): Promise<OpenedAudio>;
  /** Stores a complete local file at `key`, atomically: readers see all of it or none of it. */
  putFile(key: AudioKey, file: string, size: number): Promise<StoredAudio>;
  /** A space's files in UTF-8 byte order of their paths; `more` says whether a further page exists. */
  list(space: string | null, options: ListOptions): Promise<{ files: StoredAudio[]; more: boolean }>;
  /** Deletes a file; false if there was none. */
  delete(key: AudioKey): Promise<boolean>;
  /** Every space that holds files (per-user layout). */
  spaces(): AsyncIterable<string>;
  /** A URL the client can PUT exactly `bytes` bytes to; only stores that can sign one have it. */
  presignUpload?(key: AudioKey, options: { bytes: number; expiresInSeconds: number }): Promise<PresignedUpload>;
  close(): Promise<void>;
}

/** UTF-8 byte order, the order S3 lists keys in: both stores page through a space the same way. */
export function compareStoreOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
