import { fork, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceEnvironment, startCluster } from '../src/cluster/cluster';
import { loadConfig } from '../src/config/config';
import { temporalConnectionOptions } from '../src/temporal/connection-options';
import { readClusterPids } from '../src/cluster/cluster-pids';
import { readRelease } from '../src/cluster/release';
import { HISTORY_SHARDS, SERVER_ENVIRONMENT } from '../src/cluster/server-config';
import { freePort } from '../src/process/free-port';
import { FLEET_COUNT_INTERVAL_MS } from '../src/temporal/live-workers';
import { stopChild } from '../src/process/process-lifecycle';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { Api } from './bench-api';
import { guardedPids } from './process-usage';
import { clusterServerWork, devServerWork, type ServerWorkProbe } from './server-work';
import { pidMeters, treeMeterSource, type MeterSource } from './usage-meter';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const TOOLS_DIR = path.join(ROOT, '.tools');
const NAMESPACE = 'default';
/** For the dev server, and again for each step of the cluster's start: a loaded 2-core machine is slow. */
const STARTUP_TIMEOUT_MS = 180_000;

/** A system under test: its API and worker processes, and the store (the Temporal server, or Redis) behind them. */
export interface SystemUnderTest {
  name: string;
  durability: string;
  api: Api;
  /** SIGKILLs the worker and starts a fresh one. */
  restartWorker(): Promise<void>;
  /** Every process of the system by name, the store's first; the load generator is none of them. */
  parts: Record<string, MeterSource>;
  /** Counts what the Temporal server did; none for BullMQ. */
  serverWork?: ServerWorkProbe;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Worker processes sharing the task queue (default 1). */
  workers?: number;
  /** `--profile`: the dev server's metrics on this port, and V8 CPU profiles of the worker and API in this folder. */
  profile?: { metricsPort: number; cpuProfileDir: string };
}

/** One of the systems `npm run bench` can run, by the name `--systems` takes. */
export interface SystemDefinition {
  name: string;
  start(
    dir: string,
    env: NodeJS.ProcessEnv,
    keys: Map<string, string>,
    options?: StartOptions,
  ): Promise<SystemUnderTest>;
  /** Scenarios this system is not run in, each with the reason the report gives. */
  skips?: Record<string, string>;
}

function startProcess(
  modulePath: string,
  env: NodeJS.ProcessEnv,
  execArgv: string[] = [],
): Promise<{ child: ChildProcess; ready: Record<string, string> }> {
  const child = fork(modulePath, [], { env, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.on('message', (message: { type?: string } & Record<string, string>) => {
      if (message.type === 'ready') resolve({ child, ready: message });
    });
    child.once('exit', (code) => reject(new Error(`${modulePath} exited before it was ready (${code})`)));
  });
}

/** The processes that keep a system's state, and how to count and stop them. */
interface Store {
  parts: Record<string, MeterSource>;
  serverWork?: ServerWorkProbe;
  stop(): Promise<void>;
}

/** A system's worker and API processes, with the worker restartable: what every system under test shares. */
async function startWorkerAndApi(options: {
  name: string;
  durability: string;
  workerPath: string;
  apiPath: string;
  env: NodeJS.ProcessEnv;
  keys: Map<string, string>;
  store: Store;
  /** Folder where the worker and the API each write a V8 CPU profile when they exit (`--profile`). */
  cpuProfileDir?: string;
  workers?: number;
}): Promise<SystemUnderTest> {
  const profiled = (name: string) =>
    options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.join(options.cpuProfileDir, name)];
  const startWorker = () => startProcess(options.workerPath, options.env, profiled('worker'));
  const workers: { child: ChildProcess }[] = [];
  let api: { child: ChildProcess; ready: Record<string, string> };
  try {
    for (let index = 0; index < (options.workers ?? 1); index += 1) workers.push(await startWorker());
    // Each worker counts the fleet now and then; until the first has counted the others it takes
    // the whole limit, and a burst taken eagerly in that moment would measure the join, not the fleet's limit.
    if (workers.length > 1) await sleep(FLEET_COUNT_INTERVAL_MS + 1000);
    api = await startProcess(options.apiPath, options.env, profiled('api'));
  } catch (err) {
    await Promise.all(workers.map((worker) => stopChild(worker.child, 'SIGKILL')));
    await options.store.serverWork?.close();
    await options.store.stop();
    throw err;
  }
  const pidsOf = (...children: ChildProcess[]) => children.flatMap((child) => (child.pid ? [child.pid] : []));
  return {
    name: options.name,
    durability: options.durability,
    api: new Api(api.ready.url as string, options.keys),
    restartWorker: async () => {
      await stopChild((workers[0] as { child: ChildProcess }).child, 'SIGKILL');
      workers[0] = await startWorker();
    },
    parts: {
      ...options.store.parts,
      [workers.length > 1 ? 'workers' : 'worker']: () => pidMeters(pidsOf(...workers.map((worker) => worker.child))),
      api: () => pidMeters(pidsOf(api.child)),
    },
    serverWork: options.store.serverWork,
    stop: async () => {
      await Promise.all([...workers, api].map((process) => stopChild(process.child, 'SIGTERM')));
      await options.store.serverWork?.close();
      await options.store.stop();
    },
  };
}

/** The service on the embedded dev server: one process for every Temporal service, on SQLite. */
async function startTemporal(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  { workers, profile }: StartOptions = {},
): Promise<SystemUnderTest> {
  const metricsPort = profile?.metricsPort ?? (await freePort());
  const devServer: DevServer = await startDevServer({
    toolsDir: TOOLS_DIR,
    dbFilename: path.join(await mkdtemp(path.join(dir, 'temporal-')), 'temporal.sqlite'),
    port: await freePort(),
    namespace: NAMESPACE,
    startupTimeoutMs: STARTUP_TIMEOUT_MS,
    metricsPort,
  });
  return startWorkerAndApi({
    name: 'temporal',
    durability:
      'Temporal dev server on SQLite: journal_mode=WAL, synchronous=NORMAL (a commit is durable against a process crash; the last commits may be lost on power loss)',
    workerPath: path.join(DIST, 'worker', 'main.js'),
    apiPath: path.join(DIST, 'api', 'main.js'),
    env: { ...env, TEMPORAL_ADDRESS: devServer.address },
    keys,
    cpuProfileDir: profile?.cpuProfileDir,
    workers,
    store: {
      parts: {
        // The server is the child of its shell guard.
        'dev server': async () => pidMeters(devServer.pid ? await guardedPids(devServer.pid) : []),
      },
      serverWork: devServerWork(devServer.address, NAMESPACE, `http://127.0.0.1:${metricsPort}/metrics`),
      stop: () => devServer.stop(),
    },
  });
}

/** The peer a Node team would build instead: BullMQ on Redis. */
async function startBullmq(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  { workers }: StartOptions = {},
): Promise<SystemUnderTest> {
  const port = await freePort();
  const redisDir = await mkdtemp(path.join(dir, 'redis-'));
  const redis = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      redisDir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
    ],
    { stdio: 'ignore' },
  );
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const reachable = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (reachable) break;
    await sleep(100);
  }
  const bullmqDist = path.join(DIST, '..', 'bench', 'bullmq');
  return startWorkerAndApi({
    name: 'bullmq',
    durability:
      'BullMQ on Redis 7 (Debian): appendonly yes, appendfsync everysec (up to a second of writes lost on a crash of the machine)',
    workerPath: path.join(bullmqDist, 'bullmq-worker.js'),
    apiPath: path.join(bullmqDist, 'bullmq-api.js'),
    env: { ...env, REDIS_URL: `redis://127.0.0.1:${port}` },
    keys,
    workers,
    store: {
      parts: { redis: () => pidMeters(redis.pid ? [redis.pid] : []) },
      stop: async () => {
        redis.kill('SIGTERM');
        await sleep(500);
      },
    },
  });
}

/**
 * The service against the production topology: `npm run cluster`'s Temporal cluster (each service its own
 * process, on PostgreSQL), started through `startCluster()` in a DATA_DIR of its own and on a block of free ports,
 * so it cannot meet another cluster on this machine. The API and worker only check the namespace, as in the
 * compose file: the cluster's namespace job prepared it.
 */
async function startClusterSystem(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  { workers }: StartOptions = {},
): Promise<SystemUnderTest> {
  const dataDir = await mkdtemp(path.join(dir, 'cluster-'));
  // Under root PostgreSQL runs as the postgres user, which has to pass through these folders to its data.
  for (const folder of [dir, dataDir]) await chmod(folder, 0o711);
  const clusterDir = path.join(dataDir, 'cluster');
  const cluster = await startCluster({
    dir: clusterDir,
    toolsDir: TOOLS_DIR,
    port: 0,
    namespace: NAMESPACE,
    retentionDays: 1,
    startupTimeoutMs: STARTUP_TIMEOUT_MS,
    // As `npm run cluster` runs it: mutual TLS on the frontend and between the processes.
    tls: true,
    log: (message) => process.stdout.write(`  cluster: ${message}\n`),
  });
  const clusterEnv = serviceEnvironment(cluster);
  const frontend = await temporalConnectionOptions(loadConfig({ ...env, ...clusterEnv }).temporal);
  // Each process by its pid file, read at every sample: the file names whichever incarnation runs now.
  const pidOf = async (name: string) => (await readClusterPids(clusterDir)).processes[name];
  const parts: Record<string, MeterSource> = {};
  for (const { name } of cluster.processes) {
    parts[`temporal ${name}`] = async () => {
      const pid = await pidOf(name);
      return pidMeters(pid === undefined ? [] : [pid]);
    };
  }
  parts.postgresql = treeMeterSource(async () => (await readClusterPids(clusterDir)).postgres);
  const { serverVersion } = readRelease();
  return startWorkerAndApi({
    name: 'cluster',
    durability: `Temporal ${serverVersion} as \`npm run cluster\` runs it: ${cluster.processes
      .map((each) => each.name)
      .join(
        ', ',
      )} each a process of its own, ${HISTORY_SHARDS} history shards, mutual TLS on the frontend and between the processes, on Debian's PostgreSQL 15 with its defaults (fsync and synchronous_commit on: a commit is durable against a crash of the machine)`,
    workerPath: path.join(DIST, 'worker', 'main.js'),
    apiPath: path.join(DIST, 'api', 'main.js'),
    env: { ...env, ...clusterEnv, DATA_DIR: dataDir, TEMPORAL_PREPARE_NAMESPACE: 'false' },
    keys,
    workers,
    store: {
      parts,
      serverWork: clusterServerWork(frontend, NAMESPACE, cluster.postgres().url('postgres'), {
        temporal: SERVER_ENVIRONMENT.DBNAME,
        visibility: SERVER_ENVIRONMENT.VISIBILITY_DBNAME,
      }),
      stop: () => cluster.stop(),
    },
  });
}

/** Every system, in the order a run takes them. */
export const SYSTEMS: readonly SystemDefinition[] = [
  { name: 'temporal', start: startTemporal },
  { name: 'bullmq', start: startBullmq },
  {
    name: 'cluster',
    start: startClusterSystem,
    skips: {
      'fleet-cap':
        "it measures the worker's fleet-wide ASR limit, which the server does not change, and would need a second cluster of 512 shards started for it (minutes on this machine)",
    },
  },
];
