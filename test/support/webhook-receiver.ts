import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
  /** A body of this many bytes, streamed as the client takes it. */
  bodyBytes?: number;
}

/** How much of a streamed answer body the receiver got to write before the client went away or it was done. */
export interface StreamedReply {
  bytesWritten: number;
  complete: boolean;
}

/**
 * A client's webhook endpoint, as a real HTTP server on loopback: records every request it gets and answers each
 * with the next scripted answer, then 204.
 */
export class WebhookReceiver {
  readonly received: ReceivedCallback[] = [];
  readonly answers: ScriptedAnswer[] = [];
  readonly streamed: Promise<StreamedReply>[] = [];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    readonly port: number,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}`, port);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        receiver.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        const answer = receiver.answers.shift() ?? { status: 204 };
        setTimeout(() => {
          if (answer.bodyBytes === undefined) res.writeHead(answer.status, answer.headers).end();
          else receiver.streamed.push(stream(res, answer));
        }, answer.delayMs ?? 0);
      });
    });
    return receiver;
  }

  reset(): void {
    this.received.length = 0;
    this.answers.length = 0;
    this.streamed.length = 0;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes `bodyBytes` in 64 KiB pieces, waiting for the client to take each; settles when done or cut off. */
function stream(res: ServerResponse, answer: ScriptedAnswer): Promise<StreamedReply> {
  const total = answer.bodyBytes ?? 0;
  const piece = Buffer.alloc(64 * 1024, 'x');
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(total) });
  return new Promise((resolve) => {
    let written = 0;
    res.on('close', () => resolve({ bytesWritten: written, complete: written >= total }));
    const next = () => {
      while (written < total && !res.destroyed) {
        const size = Math.min(piece.length, total - written);
        written += size;
        if (!res.write(piece.subarray(0, size))) return void res.once('drain', next);
      }
      if (written >= total) res.end();
    };
    next();
  });
}
