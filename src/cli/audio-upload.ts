import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { uploadNameProblem } from '../storage/audio-paths';
import type { TranscriptionApiClient, UploadedAudio } from './api-client';

/** A file on this machine that the command line named. */
export interface LocalAudioFile {
  /** As the user wrote it. */
  file: string;
  bytes: number;
}

/** One upload done: the file as the user wrote it, and the API's answer, whose `path` is what a job names. */
export type UploadRecord = { file: string } & UploadedAudio;

/** An upload that failed, naming the file; the API's error, or the one reading the file, is its `cause`. */
export class UploadError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`cannot upload ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'UploadError';
  }
}

/** The regular file at `file`, if there is one here; anything else is a path in the user's audio space. */
export async function localAudioFile(file: string): Promise<LocalAudioFile | undefined> {
  try {
    const stats = await stat(file);
    return stats.isFile() ? { file, bytes: stats.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Streams a local file to `POST /audio`, never holding it whole in memory, and reports how many bytes have been
 * handed to the connection. Throws an {@link UploadError}.
 */
export async function uploadLocalFile(
  client: Pick<TranscriptionApiClient, 'uploadAudio'>,
  local: LocalAudioFile,
  options: { userId?: string; onProgress: (sent: number) => void },
): Promise<UploadRecord> {
  const source = createReadStream(local.file);
  try {
    // Opened before the request, so that an unreadable file is reported as such and not as a failed request.
    await once(source, 'ready').catch((err: unknown) => {
      throw new UploadError(local.file, err);
    });
    let readError: unknown;
    source.once('error', (err) => {
      readError = err;
    });
    let sent = 0;
    options.onProgress(sent);
    const counted = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        sent += chunk.byteLength;
        options.onProgress(sent);
        controller.enqueue(chunk);
      },
    });
    const body = (Readable.toWeb(source) as ReadableStream<Uint8Array>).pipeThrough(counted);
    try {
      const uploaded = await client.uploadAudio({
        body,
        bytes: local.bytes,
        name: uploadName(local.file),
        userId: options.userId,
      });
      return { file: local.file, ...uploaded };
    } catch (err) {
      throw new UploadError(local.file, readError ?? err);
    }
  } finally {
    source.destroy();
  }
}

/**
 * The file's own name, which the API keeps in the upload's path, if the API takes it as it is. macOS may hand
 * names back decomposed, and the API takes NFC only; a name it refuses anyway (`.hidden.wav`) is left out, and
 * the API names the upload after its format instead.
 */
function uploadName(file: string): string | undefined {
  const name = path.basename(file).normalize('NFC');
  return uploadNameProblem(name) === undefined ? name : undefined;
}
