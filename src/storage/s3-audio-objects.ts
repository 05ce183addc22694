import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createReadStream } from 'node:fs';
import { storeName, type AudioKey } from './audio-paths';
import {
  AudioObjectChangedError,
  AudioObjectMissingError,
  type AudioObjects,
  type ListOptions,
  type OpenedAudio,
  type PresignedUpload,
  type StoredAudio,
} from './audio-objects';

export interface S3AudioObjectsOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash; '' for the bucket's root. */
  prefix: string;
  endpoint?: string;
  /** The endpoint written into presigned URLs, when clients reach the store by another address than the API. */
  publicEndpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

/**
 * Audio files in an S3-compatible bucket: `<prefix>/<space>/<path>`. Files are inspected with a HEAD and ranged
 * GETs and streamed with one GET, each pinned to the ETag the HEAD returned (`If-Match`), so a file replaced
 * halfway is noticed instead of sending a mix of two versions.
 */
export class S3AudioObjects implements AudioObjects {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly presigner: S3Client;

  constructor(private readonly options: S3AudioObjectsOptions) {
    const clientOptions = (endpoint: string | undefined) =>
      new S3Client({
        region: options.region,
        endpoint,
        forcePathStyle: options.forcePathStyle,
        ...(options.accessKeyId && options.secretAccessKey
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
        // Checksums are for uploads the SDK streams itself; ours go out with their length known, and some
        // S3-compatible servers refuse the newer trailing-checksum encoding.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    this.client = clientOptions(options.endpoint);
    this.presigner = options.publicEndpoint ? clientOptions(options.publicEndpoint) : this.client;
  }

  async open(key: AudioKey): Promise<OpenedAudio> {
    const Key = this.objectKey(key);
    const Bucket = this.options.bucket;
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket, Key }));
    } catch (err) {
      if (isMissing(err)) throw new AudioObjectMissingError();
      throw err;
    }
    const size = head.ContentLength ?? 0;
    const etag = head.ETag ?? '';
    const get = async (range: string | undefined) => {
      try {
        const answer = await this.client.send(new GetObjectCommand({ Bucket, Key, Range: range, IfMatch: etag }));
        if (!answer.Body) throw new AudioObjectChangedError(key.path);
        return answer.Body;
      } catch (err) {
        // Gone or replaced since the HEAD: either way not the version that was checked.
        if (isMissing(err) || status(err) === 412) throw new AudioObjectChangedError(key.path);
        throw err;
      }
    };
    return {
      size,
      etag,
      modifiedTime: head.LastModified ?? new Date(0),
      readAt: async (offset, length) => {
        const end = Math.min(size, offset + length) - 1;
        if (length <= 0 || offset >= size || end < offset) return new Uint8Array(0);
        return (await get(`bytes=${offset}-${end}`)).transformToByteArray();
      },
      stream: () => {
        const body = get(undefined);
        // The GET starts when the stream is first read, so the stream can be handed out before it is needed.
        let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
        return new ReadableStream<Uint8Array>({
          async pull(controller) {
            reader ??= ((await body).transformToWebStream() as ReadableStream<Uint8Array>).getReader();
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          async cancel(reason) {
            await reader?.cancel(reason);
          },
        });
      },
      close: async () => {},
    };
  }

  async putFile(key: AudioKey, file: string, size: number): Promise<StoredAudio> {
    const answer = await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.objectKey(key),
        Body: createReadStream(file),
        ContentLength: size,
      }),
    );
    return { path: key.path, size, etag: answer.ETag ?? '', modifiedTime: new Date() };
  }

  async list(space: string | null, options: ListOptions): Promise<{ files: StoredAudio[]; more: boolean }> {
    const base = this.objectKey({ space, path: '' });
    const answer = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.options.bucket,
        Prefix: `${base}${options.prefix}`,
        StartAfter: options.startAfter === undefined ? undefined : `${base}${options.startAfter}`,
        MaxKeys: options.limit,
      }),
    );
    const files = (answer.Contents ?? []).flatMap((object) => {
      const relative = object.Key?.slice(base.length) ?? '';
      // Keys ending in '/' are folder markers some tools create; they hold no audio.
      if (relative === '' || relative.endsWith('/')) return [];
      return [
        {
          path: relative,
          size: object.Size ?? 0,
          etag: object.ETag ?? '',
          modifiedTime: object.LastModified ?? new Date(0),
        },
      ];
    });
    return { files, more: answer.IsTruncated === true };
  }

  async delete(key: AudioKey): Promise<boolean> {
    const request = { Bucket: this.options.bucket, Key: this.objectKey(key) };
    // S3 deletes succeed whether or not there was an object; the HEAD tells the caller which it was.
    try {
      await this.client.send(new HeadObjectCommand(request));
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    await this.client.send(new DeleteObjectCommand(request));
    return true;
  }

  async *spaces(): AsyncIterable<string> {
    const base = this.objectKey({ space: null, path: '' });
    let token: string | undefined;
    do {
      const answer = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: base,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const common of answer.CommonPrefixes ?? []) {
        const space = common.Prefix?.slice(base.length, -1);
        if (space) yield space;
      }
      token = answer.IsTruncated ? answer.NextContinuationToken : undefined;
    } while (token);
  }

  async presignUpload(key: AudioKey, options: { bytes: number; expiresInSeconds: number }): Promise<PresignedUpload> {
    const command = new PutObjectCommand({
      Bucket: this.options.bucket,
      Key: this.objectKey(key),
      ContentLength: options.bytes,
    });
    // Content-Length is signed, so the store refuses a body of any other size: the size limit holds without the API.
    const url = await getSignedUrl(this.presigner, command, {
      expiresIn: options.expiresInSeconds,
      signableHeaders: new Set(['content-length']),
    });
    return { url, method: 'PUT', headers: { 'content-length': String(options.bytes) } };
  }

  close(): Promise<void> {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
    return Promise.resolve();
  }

  private objectKey(key: AudioKey): string {
    const prefix = this.options.prefix === '' ? '' : `${this.options.prefix}/`;
    if (key.path === '') return key.space === null ? prefix : `${prefix}${key.space}/`;
    return `${prefix}${storeName(key)}`;
  }
}

function status(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

function isMissing(err: unknown): boolean {
  return status(err) === 404 || (err instanceof S3ServiceException && ['NoSuchKey', 'NotFound'].includes(err.name));
}
