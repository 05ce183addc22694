import Busboy from '@fastify/busboy';
import type { Context } from 'koa';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpError, invalidRequest } from './http-error';

/** The bytes of an uploaded file as they arrive, and the file name the client gave, if any. */
export interface UploadedFileStream {
  source: Readable;
  filename?: string;
}

/** Multipart overhead allowed beyond the file itself before the declared length alone is refused. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
const RAW_TYPES = /^(application\/octet-stream|audio\/[a-z0-9.+-]+)$/i;

/** Past this much of a refused upload's body, the connection is dropped rather than read to the end. */
const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;

/** Uploads whose `100 Continue` was withheld: their client has not sent the body, and will not. */
const bodyWithheld = new WeakSet<IncomingMessage>();

function declaredTooLarge(req: IncomingMessage, maxFileBytes: number): boolean {
  const declared = Number(req.headers['content-length'] ?? 0);
  const multipart = /^multipart\/form-data/i.test(req.headers['content-type'] ?? '');
  return declared > maxFileBytes + (multipart ? MULTIPART_OVERHEAD_BYTES : 0);
}

/**
 * The server's `checkContinue` handler: a client that asks before sending (`Expect: 100-continue`, as curl does for
 * bodies over 1 MB) is told to go on, unless it declared an upload over the limit. That one gets its 413 at once,
 * and never sends the bytes.
 */
export function continueUnlessTooLarge(
  maxFileBytes: number,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const isUpload = req.method === 'POST' && (req.url ?? '').split('?')[0] === '/audio';
    if (isUpload && declaredTooLarge(req, maxFileBytes)) bodyWithheld.add(req);
    else res.writeContinue();
    handle(req, res);
  };
}

/**
 * Ends a refused upload without losing the answer. Closing a socket while the client is still sending makes the
 * kernel reset it, and a reset can wipe out the 413 or 415 before the client reads it; so the rest of the body is
 * read and dropped (up to 16 MB, past which the connection is cut), and the connection stays usable. A client whose
 * body was never asked for is simply told the connection closes.
 */
export function discardRestOfUpload(ctx: Context): void {
  const req = ctx.req;
  if (req.complete) return;
  if (bodyWithheld.has(req)) {
    ctx.set('Connection', 'close');
    return;
  }
  // A multipart body was piped into its parser, which stopped reading when the upload was refused.
  req.unpipe();
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BYTES) req.socket.destroy();
  });
  req.resume();
}

/**
 * The file of an upload request: the raw body (any `audio/*` or `application/octet-stream` type, or none), or
 * the `file` field of a `multipart/form-data` body. Nothing is buffered: the caller reads the stream, counting.
 * A declared length that is already over the limit is refused before a byte is read.
 */
export async function uploadedFileStream(ctx: Context, maxFileBytes: number): Promise<UploadedFileStream> {
  const multipart = ctx.is('multipart/form-data') === 'multipart/form-data';
  if (declaredTooLarge(ctx.req, maxFileBytes)) {
    throw new HttpError(413, 'audio_too_large', `the upload is over the limit of ${maxFileBytes} bytes`);
  }
  if (multipart) return multipartFile(ctx, maxFileBytes);
  const type = ctx.get('content-type').split(';')[0]?.trim() ?? '';
  if (type !== '' && !RAW_TYPES.test(type)) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'send the file as the raw body (audio/* or application/octet-stream) or as multipart/form-data field "file"',
    );
  }
  return { source: ctx.req };
}

/** The first file part named `file`; other parts are read past and dropped. */
function multipartFile(ctx: Context, maxFileBytes: number): Promise<UploadedFileStream> {
  return new Promise((resolve, reject) => {
    let parser: ReturnType<typeof Busboy>;
    try {
      // One byte over the limit is enough to know the file is too large; the reader refuses it then.
      parser = Busboy({
        headers: ctx.req.headers as Parameters<typeof Busboy>[0]['headers'],
        limits: { files: 1, fileSize: maxFileBytes + 1, fields: 20, fieldSize: 1024, parts: 21 },
      });
    } catch {
      reject(new HttpError(400, 'invalid_multipart', 'the multipart/form-data body has no usable boundary'));
      return;
    }
    let found = false;
    parser.on('file', (field, stream, filename) => {
      if (field !== 'file' || found) {
        stream.resume();
        return;
      }
      found = true;
      resolve({ source: stream, filename: filename || undefined });
    });
    parser.on('field', () => undefined);
    parser.on('error', () => {
      if (!found) reject(new HttpError(400, 'invalid_multipart', 'the multipart/form-data body is malformed'));
    });
    parser.on('finish', () => {
      if (!found)
        reject(invalidRequest([{ field: 'file', message: 'a multipart upload needs a file field named "file"' }]));
    });
    ctx.req.pipe(parser);
  });
}
