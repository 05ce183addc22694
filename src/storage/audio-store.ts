import { createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { once } from 'node:events';
import { ulid } from 'ulid';
import { AUDIO_FILE_ERROR } from '../../workflows/contract';
import { AudioProbeError, fileReader, probeAudio, type AudioFormat, type AudioProbe } from '../audio/audio-probe';
import { InvalidAudioPathError, normalizeChunkPath, userSpace, type AudioKey, type AudioLayout } from './audio-paths';
import {
  AudioObjectMissingError,
  type AudioObjects,
  type OpenedAudio,
  type PresignedUpload,
  type StoredAudio,
} from './audio-objects';

/** What is wrong with a chunk's file; the API answers each with its own status. */
export type AudioFileProblem =
  'invalid_path' | 'not_found' | 'too_large' | 'unsupported_format' | 'corrupt' | 'too_long';

/**
 * A chunk's file cannot be used: not one of the caller's files, not audio, too large or too long. Never retried.
 * Only `not_found` is said of files the caller does not own, and always in the same words.
 */
export class AudioFileError extends Error {
  override readonly name = AUDIO_FILE_ERROR;
  constructor(
    message: string,
    readonly problem: AudioFileProblem,
  ) {
    super(message);
  }
}

/** A chunk's file as checked: its path in the caller's space, how big, and what audio it holds. */
export interface InspectedAudio {
  path: string;
  size: number;
  audio: AudioProbe;
}

/** One chunk's audio, opened and checked, streamed from the store when read; close it when done. */
export interface ChunkAudio extends InspectedAudio {
  /** Its path in its owner's space: what the ASR is told the file is called. */
  name: string;
  etag: string;
  modifiedTime: Date;
  stream(): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

/** A file in a user's space as the API lists it. */
export interface AudioFileInfo {
  path: string;
  bytes: number;
  modifiedTime: string;
  /** When an upload is removed; null for files that do not expire. */
  expiresTime: string | null;
}

export interface AudioFileDetails extends AudioFileInfo {
  format: AudioFormat;
  codec: string;
  durationSeconds: number;
}

export interface UploadedAudio {
  path: string;
  bytes: number;
  format: AudioFormat;
  durationSeconds: number;
  expiresTime: string;
}

export interface AudioStoreOptions {
  layout: AudioLayout;
  maxChunkBytes: number;
  maxChunkSeconds: number;
  /** Uploads are removed this long after they were stored. */
  uploadRetentionMs: number;
  /** Where uploads are written while they arrive and are checked, before they enter the store. */
  spoolDir: string;
  now?: () => number;
}

/** Uploads live here in each space; only files under it expire. */
export const UPLOADS_FOLDER = 'uploads';
const EXTENSIONS: Record<AudioFormat, string> = { wav: 'wav', flac: 'flac', mp3: 'mp3', ogg: 'ogg', m4a: 'm4a' };

/**
 * Each user's audio: every path a user names is resolved inside that user's own space (or, in the shared layout,
 * the store's root), checked to be audio within the limits, and read only from the version that was checked.
 * Both the API (at submission, and for uploads) and the worker (before each ASR call) go through here.
 */
export class AudioStore {
  private readonly now: () => number;

  constructor(
    private readonly objects: AudioObjects,
    private readonly options: AudioStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get storeKind(): AudioObjects['kind'] {
    return this.objects.kind;
  }

  get layout(): AudioLayout {
    return this.options.layout;
  }

  /** Checks a user's chunk: theirs, a regular file, a supported audio format, within size and duration. */
  async inspect(userId: string, chunkPath: string): Promise<InspectedAudio> {
    const opened = await this.open(userId, chunkPath);
    await opened.close();
    return { path: opened.path, size: opened.size, audio: opened.audio };
  }

  /** One of the user's files, checked as a chunk would be, with what it holds and when it expires. */
  async details(userId: string, chunkPath: string): Promise<AudioFileDetails> {
    const opened = await this.open(userId, chunkPath);
    await opened.close();
    return {
      ...this.describe({ path: opened.path, size: opened.size, etag: opened.etag, modifiedTime: opened.modifiedTime }),
      format: opened.audio.format,
      codec: opened.audio.codec,
      durationSeconds: opened.audio.durationSeconds,
    };
  }

  /** Opens a user's chunk and checks it, so a bad file fails before any byte goes to the ASR. */
  async open(userId: string, chunkPath: string): Promise<ChunkAudio> {
    const key = this.keyOf(userId, chunkPath);
    let opened: OpenedAudio;
    try {
      opened = await this.objects.open(key);
    } catch (err) {
      if (err instanceof AudioObjectMissingError) throw notFound(key.path);
      throw err;
    }
    try {
      const audio = await this.check(key.path, opened.size, (offset, length) => opened.readAt(offset, length));
      return {
        name: key.path,
        path: key.path,
        size: opened.size,
        etag: opened.etag,
        modifiedTime: opened.modifiedTime,
        audio,
        stream: () => opened.stream(),
        close: () => opened.close(),
      };
    } catch (err) {
      await opened.close();
      throw err;
    }
  }

  /**
   * Stores an upload in the user's `uploads/` folder: streamed to a spool file (refused with `too_large` as soon as
   * it passes the limit), checked like any chunk, then moved into the store. Nothing is left behind on refusal.
   */
  async upload(userId: string, source: Readable, options: { name?: string } = {}): Promise<UploadedAudio> {
    await mkdir(this.options.spoolDir, { recursive: true });
    const spool = path.join(this.options.spoolDir, `${ulid()}.upload`);
    try {
      const bytes = await spoolWithin(source, spool, this.options.maxChunkBytes);
      const handle = await open(spool, 'r');
      let audio: AudioProbe;
      try {
        audio = await this.check(options.name ?? 'the upload', bytes, fileReader(handle, bytes));
      } finally {
        await handle.close();
      }
      const id = ulid().toLowerCase();
      const name = options.name === undefined ? `${id}.${EXTENSIONS[audio.format]}` : `${id}-${options.name}`;
      const key = this.keyOf(userId, `${UPLOADS_FOLDER}/${name}`);
      const stored = await this.objects.putFile(key, spool, bytes);
      return {
        path: key.path,
        bytes,
        format: audio.format,
        durationSeconds: audio.durationSeconds,
        expiresTime: this.expiryOf(key.path, stored.modifiedTime) ?? '',
      };
    } finally {
      await rm(spool, { force: true });
    }
  }

  /** A presigned PUT into the user's `uploads/`, on stores that can sign one; the file is checked when a job names it. */
  async presignUpload(
    userId: string,
    options: { name?: string; bytes: number; expiresInSeconds: number },
  ): Promise<(PresignedUpload & { path: string; expiresTime: string }) | undefined> {
    if (!this.objects.presignUpload) return undefined;
    if (options.bytes > this.options.maxChunkBytes)
      throw tooLarge(options.name ?? 'the upload', options.bytes, this.options.maxChunkBytes);
    const id = ulid().toLowerCase();
    const key = this.keyOf(userId, `${UPLOADS_FOLDER}/${options.name === undefined ? id : `${id}-${options.name}`}`);
    const signed = await this.objects.presignUpload(key, {
      bytes: options.bytes,
      expiresInSeconds: options.expiresInSeconds,
    });
    return {
      ...signed,
      path: key.path,
      expiresTime: new Date(this.now() + options.expiresInSeconds * 1000).toISOString(),
    };
  }

  /** One page of a user's files, in path order; the page token is the last path of the page before. */
  async list(
    userId: string,
    options: { prefix: string; limit: number; pageToken?: string },
  ): Promise<{ files: AudioFileInfo[]; nextPageToken: string | null }> {
    const startAfter = options.pageToken === undefined ? undefined : openListToken(options.pageToken);
    const page = await this.objects.list(this.spaceOf(userId), {
      prefix: options.prefix,
      startAfter,
      limit: options.limit,
    });
    const files = page.files.map((file) => this.describe(file));
    const last = files.at(-1);
    return { files, nextPageToken: page.more && last ? Buffer.from(last.path, 'utf8').toString('base64url') : null };
  }

  /** Deletes one of the user's files; `not_found` for anything else. */
  async remove(userId: string, chunkPath: string): Promise<void> {
    const key = this.keyOf(userId, chunkPath);
    if (!(await this.objects.delete(key))) throw notFound(key.path);
  }

  /**
   * Removes every upload older than the retention, except those `keep` spares (a running job's). Returns how many
   * were removed and kept.
   */
  async expireUploads(keep: (key: AudioKey) => boolean): Promise<{ removed: number; kept: number }> {
    let removed = 0;
    let kept = 0;
    const spaces: (string | null)[] = [];
    if (this.options.layout === 'shared') spaces.push(null);
    else for await (const space of this.objects.spaces()) spaces.push(space);
    for (const space of spaces) {
      let startAfter: string | undefined;
      for (;;) {
        const page = await this.objects.list(space, { prefix: `${UPLOADS_FOLDER}/`, startAfter, limit: 1000 });
        for (const file of page.files) {
          if (file.modifiedTime.getTime() + this.options.uploadRetentionMs > this.now()) continue;
          const key = { space, path: file.path };
          if (keep(key)) kept += 1;
          else if (await this.objects.delete(key)) removed += 1;
        }
        if (!page.more) break;
        startAfter = page.files.at(-1)?.path;
      }
    }
    return { removed, kept };
  }

  async close(): Promise<void> {
    await this.objects.close();
  }

  private spaceOf(userId: string): string | null {
    return this.options.layout === 'per-user' ? userSpace(userId) : null;
  }

  private keyOf(userId: string, chunkPath: string): AudioKey {
    let normalized: string;
    try {
      normalized = normalizeChunkPath(chunkPath);
    } catch (err) {
      if (err instanceof InvalidAudioPathError) throw new AudioFileError(err.message, 'invalid_path');
      throw err;
    }
    return { space: this.spaceOf(userId), path: normalized };
  }

  private async check(
    name: string,
    size: number,
    readAt: (offset: number, length: number) => Promise<Uint8Array>,
  ): Promise<AudioProbe> {
    if (size > this.options.maxChunkBytes) throw tooLarge(name, size, this.options.maxChunkBytes);
    let audio: AudioProbe;
    try {
      audio = await probeAudio(readAt, size);
    } catch (err) {
      if (!(err instanceof AudioProbeError)) throw err;
      if (err.kind === 'corrupt') throw new AudioFileError(`${name}: ${err.message}`, 'corrupt');
      // The probe's message is the one place the supported formats are listed.
      throw new AudioFileError(`${name} is ${err.message}`, 'unsupported_format');
    }
    if (audio.durationSeconds > this.options.maxChunkSeconds) {
      throw new AudioFileError(
        `${name} is ${audio.durationSeconds.toFixed(1)} s long, over the limit of ${this.options.maxChunkSeconds} s`,
        'too_long',
      );
    }
    return audio;
  }

  private describe(file: StoredAudio): AudioFileInfo {
    return {
      path: file.path,
      bytes: file.size,
      modifiedTime: file.modifiedTime.toISOString(),
      expiresTime: this.expiryOf(file.path, file.modifiedTime),
    };
  }

  private expiryOf(filePath: string, modifiedTime: Date): string | null {
    if (!filePath.startsWith(`${UPLOADS_FOLDER}/`)) return null;
    return new Date(modifiedTime.getTime() + this.options.uploadRetentionMs).toISOString();
  }
}

/** The one answer for a file the caller cannot use as theirs, whatever the reason: it says nothing about the file. */
function notFound(chunkPath: string): AudioFileError {
  return new AudioFileError(`${chunkPath}: no such audio file in your audio space`, 'not_found');
}

function tooLarge(name: string, size: number, limit: number): AudioFileError {
  return new AudioFileError(`${name} is ${size} bytes, over the limit of ${limit}`, 'too_large');
}

/** A list page token names the last path of the page before; anything else is refused. */
export class InvalidListTokenError extends Error {
  constructor() {
    super('pageToken is not one this service returned');
    this.name = 'InvalidListTokenError';
  }
}

function openListToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (decoded === '' || Buffer.from(decoded, 'utf8').toString('base64url') !== token) throw new InvalidListTokenError();
  return decoded;
}

/**
 * Writes `source` to `file`, failing with `too_large` (and no further reading) as soon as it passes `limit` bytes.
 * The source is left as it is on failure: it may be a request whose rest the caller still has to deal with.
 */
async function spoolWithin(source: Readable, file: string, limit: number): Promise<number> {
  const out = createWriteStream(file, { mode: 0o600 });
  let bytes = 0;
  try {
    for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limit) throw new AudioFileError(`the upload is over the limit of ${limit} bytes`, 'too_large');
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
  } catch (err) {
    // Closed before the caller removes the spool, or the file could be created after its removal.
    if (!out.closed) {
      const closed = once(out, 'close').catch(() => undefined);
      out.destroy();
      await closed;
    }
    throw err;
  }
  return bytes;
}
