import { Client, Connection } from '@temporalio/client';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApiServer } from '../../src/api/compose';
import { startAsrSimulator, type AsrSimulator } from '../../src/asr/asr-simulator';
import { freePort } from '../../src/process/free-port';
import { stopChild } from '../../src/process/process-lifecycle';
import { generateEncryptionKey } from '../../src/codec/encryption-keys';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/logger';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { userSpace } from '../../src/storage/audio-paths';
import type { AudioObjects } from '../../src/storage/audio-objects';
import { createAudioObjects } from '../../src/storage/create-audio-store';
import { startTestS3, type TestS3 } from './s3-server';
import { chunkBytes, tempDir, type ChunkOptions } from './temp-dir';
import { testApiKeys } from './test-api-keys';

/** The users the stack has API keys for; `ops` is an operator. */
export const STACK_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'ops'] as const;
export type StackUser = (typeof STACK_USERS)[number];

export { freePort };

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(PROJECT_ROOT, 'dist', 'src');

/** Polls `read` until `done` holds, or fails after `timeoutMs` with the last value seen. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await sleep(200);
    last = await read();
  }
  return last;
}

/** Where a stack keeps audio: the local folder, or a real S3 server (s3proxy) of its own. */
export type StackStore = 'local' | 's3';

/** Starts of one worker, each on a fresh metrics port, before losing that port to other processes is fatal. */
const WORKER_METRICS_ATTEMPTS = 5;

/**
 * The real service for integration tests: the pinned Temporal dev server (its own database, headless, free port),
 * the ASR simulator, the API in this process on a real HTTP port, worker processes built by `npm run build`, and
 * the audio store (a folder, or s3proxy with `store: 's3'`).
 */
export class ServiceStack {
  readonly workers: ChildProcess[] = [];
  private readonly metricsAddresses = new Map<ChildProcess, string>();
  private readonly outputs = new Map<ChildProcess, string>();
  private constructor(
    readonly devServer: DevServer,
    readonly simulator: AsrSimulator,
    readonly audioRoot: string,
    readonly audio: AudioObjects,
    readonly env: NodeJS.ProcessEnv,
    readonly apiUrl: string,
    readonly temporal: Client,
    readonly apiKeys: Readonly<Record<StackUser, string>>,
    private readonly server: Server,
    private readonly closeApi: () => Promise<void>,
    private readonly s3: TestS3 | undefined,
    private readonly workerMetrics: boolean,
  ) {}

  /**
   * `uiPort` runs the dev server with its Web UI there (0: on a free port; `devServer.uiUrl` says which), and lets
   * that UI's origin call the codec endpoint; `workerMetrics` has each worker serve its metrics on a free port
   * (`workerMetricsAddress`).
   */
  static async start(
    options: {
      env?: Record<string, string>;
      failPattern?: RegExp;
      uiPort?: number;
      store?: StackStore;
      workerMetrics?: boolean;
    } = {},
  ): Promise<ServiceStack> {
    const dir = await tempDir('stack');
    const audioRoot = path.join(dir, 'audio');
    await mkdir(audioRoot);
    const devServer = await startDevServer({
      toolsDir: path.join(PROJECT_ROOT, '.tools'),
      dbFilename: path.join(dir, 'temporal.sqlite'),
      port: 0,
      uiPort: options.uiPort,
      namespace: 'default',
      startupTimeoutMs: 120_000,
      onRetry: (reason) => process.stderr.write(`service stack: ${reason}\n`),
    });
    const s3 = options.store === 's3' ? await startTestS3() : undefined;
    const simulator = await startAsrSimulator({
      port: 0,
      latency: { minMs: 100, maxMs: 300 },
      failureRate: 0,
      failPattern: options.failPattern,
    });
    const { keys: apiKeys, API_KEYS } = testApiKeys(STACK_USERS);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dir,
      API_KEYS,
      PAYLOAD_ENCRYPTION_KEYS: generateEncryptionKey('test-key-1'),
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `integration-${path.basename(dir)}`,
      AUDIO_ROOT: audioRoot,
      ASR_URL: simulator.url,
      CHUNK_HEARTBEAT_TIMEOUT_MS: '2000',
      API_QUERY_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'error',
      ...(devServer.uiUrl === undefined ? {} : { TEMPORAL_UI_PORT: new URL(devServer.uiUrl).port }),
      ...s3?.env,
      ...options.env,
    };
    const config = loadConfig(env);
    const { server, close } = await createApiServer(config, createLogger('api', 'silent'));
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    // A plain client, without the service's codec: it sees what Temporal stores.
    const temporal = new Client({ connection: await Connection.connect({ address: devServer.address }) });
    return new ServiceStack(
      devServer,
      simulator,
      audioRoot,
      createAudioObjects(config.audio),
      env,
      `http://127.0.0.1:${port}`,
      temporal,
      apiKeys,
      server,
      close,
      s3,
      options.workerMetrics ?? false,
    );
  }

  /** Stores bytes at `name` in each given user's audio space (every user of the stack by default). */
  async putAudio(name: string, bytes: Buffer, users: readonly string[] = STACK_USERS): Promise<void> {
    const file = path.join(await tempDir('put'), 'file');
    for (const user of users) {
      await writeFile(file, bytes);
      await this.audio.putFile({ space: userSpace(user), path: name }, file, bytes.length);
    }
  }

  /** A short WAV chunk (see `chunkBytes`) at `name`, in each given user's space (every user by default). */
  async writeChunk(name: string, options: ChunkOptions = {}, users: readonly string[] = STACK_USERS): Promise<string> {
    await this.putAudio(name, chunkBytes(options), users);
    return name;
  }

  /**
   * Starts a worker process (`npm run worker`'s entry point) and waits until it polls. With `workerMetrics`, a
   * worker that finds its metrics port taken (the SDK binds it by number) is started again on a fresh one.
   */
  async startWorker(): Promise<ChildProcess> {
    for (let attempt = 1; ; attempt++) {
      const metricsAddress = this.workerMetrics ? `127.0.0.1:${await freePort()}` : undefined;
      const env = metricsAddress ? { ...this.env, WORKER_METRICS_ADDRESS: metricsAddress } : this.env;
      const worker = fork(path.join(DIST, 'worker', 'main.js'), [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      // Kept until it is ready: the reason it did not get there.
      let startupOutput: string | undefined = '';
      this.outputs.set(worker, '');
      for (const [from, to] of [
        [worker.stdout, process.stdout],
        [worker.stderr, process.stderr],
      ] as const) {
        from?.on('data', (chunk: Buffer) => {
          if (startupOutput !== undefined) startupOutput += chunk.toString();
          this.outputs.set(worker, `${this.outputs.get(worker) ?? ''}${chunk.toString()}`);
          to.write(chunk);
        });
      }
      this.workers.push(worker);
      const exitCode = await new Promise<number | null | 'ready'>((resolve) => {
        worker.on('message', (message: { type?: string }) => message.type === 'ready' && resolve('ready'));
        worker.once('exit', (code) => resolve(code));
      });
      if (exitCode === 'ready') {
        startupOutput = undefined;
        if (metricsAddress) this.metricsAddresses.set(worker, metricsAddress);
        return worker;
      }
      this.workers.splice(this.workers.indexOf(worker), 1);
      const lostPort = metricsAddress !== undefined && /address already in use/i.test(startupOutput ?? '');
      if (!lostPort || attempt >= WORKER_METRICS_ATTEMPTS) {
        throw new Error(`worker exited before it was ready (code ${exitCode})`);
      }
      process.stderr.write(
        `service stack: worker metrics port ${metricsAddress} was taken; starting the worker again\n`,
      );
    }
  }

  /** Everything a worker has written to stdout and stderr since it started. */
  workerOutput(worker: ChildProcess): string {
    return this.outputs.get(worker) ?? '';
  }

  /** `host:port` of a worker's metrics, for a stack started with `workerMetrics`. */
  workerMetricsAddress(worker: ChildProcess): string {
    const address = this.metricsAddresses.get(worker);
    if (!address) throw new Error('this worker serves no metrics: start the stack with workerMetrics');
    return address;
  }

  async stopWorker(worker: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopChild(worker, signal);
  }

  /** The Authorization header of one of the stack's users. */
  auth(user: StackUser): Record<string, string> {
    return { authorization: `Bearer ${this.apiKeys[user]}` };
  }

  /**
   * One HTTP request to the API, as the operator `ops` unless `headers` carries its own `authorization`
   * (an empty one sends none).
   */
  async request(method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
    const sent: Record<string, string> = { ...this.auth('ops'), ...headers };
    if (sent.authorization === '') delete sent.authorization;
    const response = await fetch(`${this.apiUrl}${route}`, {
      method,
      headers: body === undefined ? sent : { 'content-type': 'application/json', ...sent },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: text && isJson ? JSON.parse(text) : undefined,
    };
  }

  async submit(userId: StackUser, audioChunkPaths: string[]): Promise<string> {
    const response = await this.request('POST', '/transcribe', { audioChunkPaths }, this.auth(userId));
    if (response.status !== 202) throw new Error(`submit failed: ${response.status} ${response.text}`);
    return response.json.jobId as string;
  }

  /** GET the job until `done` holds. */
  async waitForJob(jobId: string, done: (job: any) => boolean = (job) => job.jobStatus !== 'in_progress') {
    const response = await pollUntil(
      () => this.request('GET', `/transcript/${jobId}`),
      (reply) => reply.status === 200 && done(reply.json),
    );
    return response.json;
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) await this.stopWorker(worker);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.closeApi();
    await this.temporal.connection.close();
    await this.simulator.close();
    await this.devServer.stop();
    await this.audio.close();
    await this.s3?.stop();
  }
}
