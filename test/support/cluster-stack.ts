import { Client, Connection } from '@temporalio/client';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { createApiServer } from '../../src/api/compose';
import { startAsrSimulator, type AsrSimulator } from '../../src/asr/asr-simulator';
import { generateEncryptionKey } from '../../src/codec/encryption-keys';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/logger';
import { stopChild } from '../../src/process/process-lifecycle';
import { userSpace } from '../../src/storage/audio-paths';
import type { AudioObjects } from '../../src/storage/audio-objects';
import { createAudioObjects } from '../../src/storage/create-audio-store';
import { temporalConnectionOptions } from '../../src/temporal/connection-options';
import { PROJECT_ROOT, pollUntil } from './service-stack';
import { chunkBytes, tempDir, type ChunkOptions } from './temp-dir';
import { testApiKeys } from './test-api-keys';

const USERS = ['alice', 'ops'] as const;
type User = (typeof USERS)[number];

/**
 * The service (the API in this process, worker processes built by `npm run build`, the ASR simulator) run against a
 * Temporal cluster it does not own: `npm run cluster`'s, started by the test through `startCluster()`. Like the
 * production compose file, the service only checks the namespace (TEMPORAL_PREPARE_NAMESPACE=false): the cluster's
 * namespace job has to have prepared it. ServiceStack cannot be pointed at it, as it always starts a dev server.
 * On a TLS cluster, `env` carries the service's certificate (`serviceEnvironment(cluster)`); the stack's own client
 * connects with the same settings, through the service's own code.
 */
export class ClusterStack {
  private readonly workers: ChildProcess[] = [];

  private constructor(
    readonly env: NodeJS.ProcessEnv,
    readonly apiUrl: string,
    /** A plain client (no codec) on the cluster: what Temporal itself holds. */
    readonly temporal: Client,
    private readonly apiKeys: Record<User, string>,
    private readonly audio: AudioObjects,
    /** The ASR the workers call: `requestCount(file)` says how often a chunk was sent. */
    readonly simulator: AsrSimulator,
    private readonly server: Server,
    private readonly closeApi: () => Promise<void>,
  ) {}

  /** `asrLatency` is how long the simulator takes per call (100–300 ms by default): longer keeps jobs in flight. */
  static async start(options: {
    temporalAddress: string;
    namespace?: string;
    asrLatency?: { minMs: number; maxMs: number };
    /** Settings on top of the stack's own: `serviceEnvironment(cluster)` for a TLS cluster's TEMPORAL_TLS_*. */
    env?: Record<string, string>;
  }): Promise<ClusterStack> {
    const dir = await tempDir('cluster-stack');
    const audioRoot = path.join(dir, 'audio');
    await mkdir(audioRoot);
    const simulator = await startAsrSimulator({
      port: 0,
      latency: options.asrLatency ?? { minMs: 100, maxMs: 300 },
      failureRate: 0,
    });
    const { keys: apiKeys, API_KEYS } = testApiKeys(USERS);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dir,
      API_KEYS,
      PAYLOAD_ENCRYPTION_KEYS: generateEncryptionKey('test-key-1'),
      TEMPORAL_ADDRESS: options.temporalAddress,
      TEMPORAL_NAMESPACE: options.namespace ?? 'default',
      TEMPORAL_PREPARE_NAMESPACE: 'false',
      TEMPORAL_TASK_QUEUE: `cluster-${path.basename(dir)}`,
      AUDIO_ROOT: audioRoot,
      ASR_URL: simulator.url,
      LOG_LEVEL: 'error',
      ...options.env,
    };
    const config = loadConfig(env);
    // The API's log goes to a file beside the workers' (api.log), for a failure's cause.
    const apiLog = pino.destination({ dest: path.join(dir, 'api.log'), sync: true });
    const { server, close } = await createApiServer(config, createLogger('api', 'warn', apiLog));
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const temporal = new Client({
      connection: await Connection.connect(await temporalConnectionOptions(config.temporal)),
      namespace: config.temporal.namespace,
    });
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const audio = createAudioObjects(config.audio);
    return new ClusterStack(env, apiUrl, temporal, apiKeys, audio, simulator, server, close);
  }

  /** A short WAV chunk at `name` in alice's audio space, which the simulator transcribes as `options.transcript`. */
  async writeChunk(name: string, options: ChunkOptions = {}): Promise<string> {
    const file = path.join(await tempDir('put'), 'file');
    const bytes = chunkBytes(options);
    await writeFile(file, bytes);
    await this.audio.putFile({ space: userSpace('alice'), path: name }, file, bytes.length);
    return name;
  }

  /**
   * Starts a worker process (`npm run worker`'s entry point) and resolves once it polls. Its output goes to a file
   * in the stack's folder: while a test has the cluster down, the SDK warns about every poll it retries.
   */
  async startWorker(): Promise<ChildProcess> {
    const logFile = path.join(this.env.DATA_DIR!, `worker-${this.workers.length + 1}.log`);
    const log = await open(logFile, 'a');
    const worker = fork(path.join(PROJECT_ROOT, 'dist', 'src', 'worker', 'main.js'), [], {
      env: this.env,
      stdio: ['ignore', log.fd, log.fd, 'ipc'],
    });
    await log.close();
    this.workers.push(worker);
    const outcome = await new Promise<number | null | 'ready'>((resolve) => {
      worker.on('message', (message: { type?: string }) => message.type === 'ready' && resolve('ready'));
      worker.once('exit', (code) => resolve(code));
    });
    if (outcome !== 'ready') {
      throw new Error(`worker exited before it was ready (code ${outcome}):\n${await readFile(logFile, 'utf8')}`);
    }
    return worker;
  }

  /** One HTTP request to the API as `user`; the answer's JSON when it has some. */
  async request(method: string, route: string, user: User, body?: unknown) {
    const response = await fetch(`${this.apiUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiKeys[user]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
    return { status: response.status, text, json: text && isJson ? JSON.parse(text) : undefined };
  }

  /** Submits a job for alice over HTTP; its id. */
  async submit(audioChunkPaths: string[]): Promise<string> {
    const response = await this.request('POST', '/transcribe', 'alice', { audioChunkPaths });
    if (response.status !== 202) throw new Error(`submit failed: ${response.status} ${response.text}`);
    return response.json.jobId as string;
  }

  /** GETs the job (as alice) until it is no longer in progress. */
  async waitForJob(jobId: string, timeoutMs = 90_000) {
    const reply = await pollUntil(
      () => this.request('GET', `/transcript/${jobId}`, 'alice'),
      (answer) => answer.status === 200 && answer.json.jobStatus !== 'in_progress',
      timeoutMs,
    );
    return reply.json;
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) await stopChild(worker);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.closeApi();
    await this.temporal.connection.close();
    await this.simulator.close();
    await this.audio.close();
  }
}
