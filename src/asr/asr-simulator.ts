import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { transcriptTagOf } from './simulated-transcript';

/** A canned answer the simulator gives for one file before behaving normally again (tests script faults with it). */
export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Delay before answering; defaults to none, so scripted faults are quick. */
  delayMs?: number;
}

export interface AsrSimulatorOptions {
  host?: string;
  port: number;
  latency: { minMs: number; maxMs: number };
  failureRate: number;
  failPattern?: RegExp;
  random?: () => number;
  /** Keep a record of every call (benchmarks read it to know each chunk's ASR time exactly). */
  recordCalls?: boolean;
}

/** One transcription request as the simulator served it (kept when `recordCalls` is on, for benchmarks). */
export interface AsrCall {
  file: string;
  startedMs: number;
  endedMs: number;
  /** The latency the simulator chose, or the scripted delay. */
  latencyMs: number;
  status: number;
}

export interface AsrSimulator {
  url: string;
  /** How many transcription requests the simulator received for a file (its path relative to the audio root). */
  requestCount(fileName: string): number;
  totalRequests(): number;
  /** Queues canned answers for a file, used in order before the normal behaviour resumes. */
  script(fileName: string, answers: ScriptedAnswer[]): void;
  /** Changes the share of transient failures from now on. */
  setFailureRate(rate: number): void;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Every call so far, when `recordCalls` is on. */
  calls(): readonly AsrCall[];
  close(): Promise<void>;
}

/**
 * ASR SIMULATOR, a stand-in for a real model in development, tests and benchmarks. It serves the same
 * OpenAI-compatible `POST /v1/audio/transcriptions` as the production ASR, with the real model's latency,
 * optional transient failures, and as transcript the text tagged into the WAV file (see simulated-transcript.ts)
 * when it has one.
 */
export async function startAsrSimulator(options: AsrSimulatorOptions): Promise<AsrSimulator> {
  const simulated = new SimulatedAsr(options);
  const server = http.createServer((req, res) => simulated.serve(req, res));
  // Real models answer in seconds; keep idle connections longer than that so clients can reuse them.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    requestCount: (fileName) => simulated.counts.get(fileName) ?? 0,
    totalRequests: () => simulated.total,
    script: (fileName, answers) =>
      simulated.scripts.set(fileName, [...(simulated.scripts.get(fileName) ?? []), ...answers]),
    setFailureRate: (rate) => {
      simulated.failureRate = rate;
    },
    inFlight: () => simulated.active,
    calls: () => simulated.calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Reply = ScriptedAnswer & { file?: string };

/** The simulator's behaviour and what it has seen, behind its HTTP server. */
class SimulatedAsr {
  readonly counts = new Map<string, number>();
  readonly scripts = new Map<string, ScriptedAnswer[]>();
  readonly calls: AsrCall[] = [];
  total = 0;
  active = 0;
  failureRate: number;
  private readonly random: () => number;

  constructor(private readonly options: AsrSimulatorOptions) {
    this.failureRate = options.failureRate;
    this.random = options.random ?? Math.random;
  }

  serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const startedMs = Date.now();
    this.active += 1;
    res.once('close', () => (this.active -= 1));
    this.answer(req)
      .then(async (reply) => {
        if (reply.delayMs) await sleep(reply.delayMs);
        this.record(reply, startedMs);
        if (res.destroyed) return;
        const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(payload);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err) } }));
      });
  }

  private async answer(req: http.IncomingMessage): Promise<Reply> {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/audio/transcriptions') {
      return { status: 404, body: { error: { message: 'not found' } } };
    }
    const upload = await uploadedFile(req);
    if ('refusal' in upload) return { status: 400, body: { error: { message: upload.refusal } } };
    const { file } = upload;
    this.total += 1;
    this.counts.set(file.name, (this.counts.get(file.name) ?? 0) + 1);
    const scripted = this.scripts.get(file.name)?.shift();
    if (scripted) return { ...scripted, file: file.name };
    return this.simulate(file);
  }

  /** The real model's latency; a permanent failure for files matching the pattern, some transient ones, or text. */
  private async simulate(file: File): Promise<Reply> {
    const { latency, failPattern } = this.options;
    const delayMs = Math.round(latency.minMs + this.random() * (latency.maxMs - latency.minMs));
    const common = { file: file.name, delayMs, headers: { 'x-simulated-latency-ms': String(delayMs) } };
    if (failPattern?.test(file.name)) {
      return { ...common, status: 500, body: { error: { message: 'simulated permanent ASR failure' } } };
    }
    if (this.random() < this.failureRate) {
      return { ...common, status: 503, body: { error: { message: 'simulated transient ASR failure' } } };
    }
    const tagged = transcriptTagOf(new Uint8Array(await file.arrayBuffer()))?.trim();
    return { ...common, status: 200, body: { text: tagged ?? `Simulated transcript of ${file.name}.` } };
  }

  private record(reply: Reply, startedMs: number): void {
    if (!this.options.recordCalls || reply.file === undefined) return;
    const { file, status } = reply;
    this.calls.push({ file, startedMs, endedMs: Date.now(), latencyMs: reply.delayMs ?? 0, status });
  }
}

/** The `file` of an OpenAI-style transcription request, or why the request is refused. */
async function uploadedFile(req: http.IncomingMessage): Promise<{ file: File } | { refusal: string }> {
  let form: FormData;
  try {
    const request = new Request('http://asr-simulator/', {
      method: 'POST',
      headers: req.headers as Record<string, string>,
      body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
      duplex: 'half',
    });
    form = await request.formData();
  } catch {
    return { refusal: 'expected a multipart/form-data body' };
  }
  const file = form.get('file');
  if (!(file instanceof File)) return { refusal: "missing the 'file' field" };
  if (typeof form.get('model') !== 'string') return { refusal: "missing the 'model' field" };
  return { file };
}
