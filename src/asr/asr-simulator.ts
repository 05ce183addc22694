import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AudioStore } from '../storage/audio-store';

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
  audioRoot: string;
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
 * optional transient failures, and as transcript the sidecar file `<audio file>.txt` when there is one.
 */
export async function startAsrSimulator(options: AsrSimulatorOptions): Promise<AsrSimulator> {
  const random = options.random ?? Math.random;
  const sidecars = new AudioStore({
    root: options.audioRoot,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
    maxChunkSeconds: Number.MAX_SAFE_INTEGER,
  });
  const counts = new Map<string, number>();
  const scripts = new Map<string, ScriptedAnswer[]>();
  let total = 0;
  let failureRate = options.failureRate;
  let active = 0;
  const calls: AsrCall[] = [];

  const transcriptFor = async (name: string): Promise<string> => {
    try {
      const { realPath } = await sidecars.resolve(`${name}.txt`);
      return (await readFile(realPath, 'utf8')).trim();
    } catch {
      return `Simulated transcript of ${name}.`;
    }
  };

  const answer = async (req: http.IncomingMessage): Promise<ScriptedAnswer & { file?: string }> => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/audio/transcriptions') {
      return { status: 404, body: { error: { message: 'not found' } } };
    }
    let form: FormData;
    try {
      const request = new Request('http://asr-simulator/', {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: Readable.toWeb(req),
        duplex: 'half',
      });
      form = await request.formData();
    } catch {
      return { status: 400, body: { error: { message: 'expected a multipart/form-data body' } } };
    }
    const file = form.get('file');
    if (!(file instanceof File)) return { status: 400, body: { error: { message: "missing the 'file' field" } } };
    if (typeof form.get('model') !== 'string') {
      return { status: 400, body: { error: { message: "missing the 'model' field" } } };
    }
    const name = file.name;
    total += 1;
    counts.set(name, (counts.get(name) ?? 0) + 1);

    const scripted = scripts.get(name)?.shift();
    if (scripted) return { ...scripted, file: name };

    const latencyMs = Math.round(options.latency.minMs + random() * (options.latency.maxMs - options.latency.minMs));
    const headers = { 'x-simulated-latency-ms': String(latencyMs) };
    if (options.failPattern?.test(name)) {
      return {
        file: name,
        status: 500,
        delayMs: latencyMs,
        headers,
        body: { error: { message: 'simulated permanent ASR failure' } },
      };
    }
    if (random() < failureRate) {
      return {
        file: name,
        status: 503,
        delayMs: latencyMs,
        headers,
        body: { error: { message: 'simulated transient ASR failure' } },
      };
    }
    return { file: name, status: 200, delayMs: latencyMs, headers, body: { text: await transcriptFor(name) } };
  };

  const record = (file: string | undefined, startedMs: number, reply: ScriptedAnswer): void => {
    if (!options.recordCalls || file === undefined) return;
    calls.push({ file, startedMs, endedMs: Date.now(), latencyMs: reply.delayMs ?? 0, status: reply.status });
  };

  const server = http.createServer((req, res) => {
    const startedMs = Date.now();
    active += 1;
    res.once('close', () => (active -= 1));
    answer(req)
      .then(async (reply) => {
        if (reply.delayMs) await sleep(reply.delayMs);
        record(reply.file, startedMs, reply);
        if (res.destroyed) return;
        const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(payload);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err) } }));
      });
  });
  // Real models answer in seconds; keep idle connections longer than that so clients can reuse them.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;

  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    requestCount: (fileName) => counts.get(fileName) ?? 0,
    totalRequests: () => total,
    script: (fileName, answers) => scripts.set(fileName, [...(scripts.get(fileName) ?? []), ...answers]),
    setFailureRate: (rate) => {
      failureRate = rate;
    },
    inFlight: () => active,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
