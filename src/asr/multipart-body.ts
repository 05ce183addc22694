import { randomBytes } from 'node:crypto';

/** A file streamed as one part of a form: the bytes are read only as the request is sent. */
export interface StreamedFile {
  field: string;
  name: string;
  size: number;
  stream(): ReadableStream<Uint8Array>;
}

/** A `multipart/form-data` request body built around a streamed file, with its exact length. */
export interface MultipartBody {
  contentType: string;
  length: number;
  body: ReadableStream<Uint8Array>;
}

/**
 * Encodes text fields and one file as `multipart/form-data` (RFC 7578) without holding the file in memory. The
 * length is known up front, so the request carries a `Content-Length`: servers that read exactly that many bytes
 * (the local engine) need it, and none needs chunked encoding.
 */
export function multipartBody(fields: readonly (readonly [string, string])[], file: StreamedFile): MultipartBody {
  const boundary = `----transcription-${randomBytes(12).toString('hex')}`;
  const encoder = new TextEncoder();
  const head = encoder.encode(
    fields.map(([name, value]) => `--${boundary}\r\n${disposition(name)}\r\n\r\n${value}\r\n`).join('') +
      `--${boundary}\r\n${disposition(file.field, file.name)}\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  let content: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let stage: 'head' | 'content' | 'tail' | 'done' = 'head';
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stage === 'head') {
        controller.enqueue(head);
        stage = 'content';
        return;
      }
      if (stage === 'content') {
        content ??= file.stream().getReader();
        const { done, value } = await content.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        stage = 'tail';
      }
      if (stage === 'tail') {
        controller.enqueue(tail);
        stage = 'done';
        return;
      }
      controller.close();
    },
    async cancel(reason) {
      await content?.cancel(reason);
    },
  });
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: head.length + file.size + tail.length,
    body,
  };
}

/** A part's Content-Disposition; quotes, backslashes and line breaks in names are escaped as browsers do. */
function disposition(name: string, filename?: string): string {
  const quote = (value: string) =>
    value.replace(/\\/g, '\\\\').replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `Content-Disposition: form-data; name="${quote(name)}"${filename === undefined ? '' : `; filename="${quote(filename)}"`}`;
}
