import { Connection, type ConnectionOptions } from '@temporalio/client';
import { grpc } from '@temporalio/proto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import type { PostgresServer } from '../process/postgres-server';
import { clusterPorts, frontendPorts, type ClusterPorts, type ProcessPorts } from './cluster-ports';
import { startClusterPostgres } from './cluster-postgres';
import { ClusterProcess } from './cluster-process';
import { runOneShotJob } from './one-shot-job';
import { refuseRunningCluster } from './pid-files';
import { temporalBinaries, type TemporalBinaries } from './release';
import {
  DYNAMIC_CONFIG_FILE,
  HISTORY_SHARDS,
  MAKE_CERTIFICATES_SCRIPT,
  PREPARE_NAMESPACE_SCRIPT,
  SERVER_ENVIRONMENT,
  SETUP_SCHEMA_SCRIPT,
  certificateJobEnvironment,
  clientTls,
  namespaceJobEnvironment,
  plainDynamicConfig,
  schemaJobEnvironment,
  serverProcessEnvironment,
  serviceTlsEnvironment,
  type ClientTls,
} from './server-config';
import { checkShardCount } from './shard-count';
import { startUiProcess } from './ui-process';

const HOST = '127.0.0.1';
/** What `temporal operator cluster health` asks the frontend about. */
const HEALTH_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const { SERVING } = grpc.health.v1.HealthCheckResponse.ServingStatus;

export interface ClusterOptions {
  /** The cluster's folder (`$DATA_DIR/cluster`): `postgres/`, `pids/`, `logs/`, `ui/`. Reused on the next start. */
  dir: string;
  /** Where `scripts/setup.sh temporal-server` built the server (`TEMPORAL_TOOLS_DIR`). */
  toolsDir: string;
  /** The frontend's gRPC port (`TEMPORAL_PORT`), from which every other port derives; 0 picks a free block (tests). */
  port: number;
  /** Every port, as they were: a cluster started on port 0 started again where its clients still look for it. */
  ports?: ClusterPorts;
  /** The Web UI's port (`TEMPORAL_UI_PORT`; 0 picks a free one); none when undefined or when the UI is not built. */
  uiPort?: number;
  /** The API's port, for the codec endpoint the Web UI calls from the browser. */
  apiPort?: number;
  namespace: string;
  retentionDays: number;
  /** History shards; {@link HISTORY_SHARDS} unless a test wants fewer. Refused when the database has another. */
  shards?: number;
  /**
   * Mutual TLS on the frontend and between the Temporal processes, with the certificates of
   * deploy/temporal/make-certificates.sh in `tls/` (made on the first start, reused after). `npm run cluster` takes
   * it from TEMPORAL_CLUSTER_TLS; off (plain gRPC) when not given, for the tests that are about something else.
   */
  tls?: boolean;
  /** For each step: PostgreSQL, the schema, each process, the namespace. */
  startupTimeoutMs: number;
  /** Progress, one line per step. */
  log?: (message: string) => void;
  /** A process exited that nobody stopped or killed. */
  onUnexpectedExit?: (name: string, code: number | null) => void;
  /** Aborts a start under way (Ctrl-C): what has started is stopped again, in order, and the start rejects. */
  signal?: AbortSignal;
}

/** The certificates a TLS cluster's clients hold. */
export interface ClusterTls {
  /** Where they are: `$DATA_DIR/cluster/tls`. */
  dir: string;
  /** The transcription service's (the API and the worker): TEMPORAL_TLS_* for `npm start`. */
  service: ClientTls;
  /** The operators' (the Temporal CLI, the Web UI, the namespace job). */
  operator: ClientTls;
}

/** A running cluster, with handles on each of its processes for the fault tests. */
export interface Cluster {
  /** The frontend's `host:port`: what TEMPORAL_ADDRESS names. */
  address: string;
  /** The clients' certificates when the cluster runs mutual TLS; undefined when it speaks plain gRPC. */
  tls: ClusterTls | undefined;
  uiUrl: string | undefined;
  ports: ClusterPorts;
  /** The Temporal processes in start order, then the UI if it runs; `process('history-1')` finds one. */
  processes: readonly ClusterProcess[];
  process(name: string): ClusterProcess;
  /** The PostgreSQL running now (a new one after {@link restartPostgres}). */
  postgres(): PostgresServer;
  /** Stops (or, with `kill`, SIGKILLs) PostgreSQL and starts it again on the same port and data. */
  restartPostgres(options?: { kill?: boolean }): Promise<void>;
  /** Stops everything, in order: the UI and the frontend first (nothing new comes in), PostgreSQL last. */
  stop(): Promise<void>;
}

/**
 * The service's settings for running against `cluster`: its address and, on a TLS cluster, the service's certificate
 * (TEMPORAL_TLS_*). What `npm run cluster` prints for `npm start`.
 */
export function serviceEnvironment(cluster: Pick<Cluster, 'address' | 'tls'>): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: cluster.address,
    ...(cluster.tls ? serviceTlsEnvironment(cluster.tls.service) : {}),
  };
}

/** The folders of a cluster under its `dir`. */
interface Layout {
  dir: string;
  pids: string;
  logs: string;
  postgres: string;
  ui: string;
  tls: string;
}

/**
 * Starts the cluster: PostgreSQL, the schema (deploy/temporal/setup-schema.sh), the history, matching and worker
 * processes, then the frontend, the namespace (deploy/temporal/prepare-namespace.sh) and the Web UI. Whatever has
 * started is stopped again if a later step fails. A second start on the same `dir` reuses its data.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log = options.log ?? (() => undefined);
  const binaries = temporalBinaries(options.toolsDir);
  const ports = options.ports ?? (await clusterPorts(options.port));
  const layout = await prepareLayout(options.dir);
  await refuseRunningCluster(layout.pids);
  const started = new StartedParts();
  try {
    const tls = options.tls ? await makeCertificates(layout, options, log) : undefined;
    const security = tls ? { tlsDir: tls.dir } : { dynamicConfigFile: await writePlainDynamicConfig(layout) };
    const postgres = await startClusterPostgres({
      dataDir: layout.postgres,
      port: ports.postgres,
      startupTimeoutMs: options.startupTimeoutMs,
    });
    started.postgres = postgres;
    options.signal?.throwIfAborted();
    log(`PostgreSQL on ${HOST}:${postgres.port}, data in ${layout.postgres}`);
    const database = { host: HOST, port: postgres.port };
    await runOneShotJob('temporal-schema', SETUP_SCHEMA_SCRIPT, schemaJobEnvironment(database, binaries), {
      timeoutMs: options.startupTimeoutMs,
      logFile: path.join(layout.logs, 'temporal-schema.log'),
    });
    log(`schema of ${SERVER_ENVIRONMENT.DBNAME} and ${SERVER_ENVIRONMENT.VISIBILITY_DBNAME} up to date`);
    options.signal?.throwIfAborted();
    const shards = options.shards ?? HISTORY_SHARDS;
    await checkShardCount(postgres.url('temporal'), shards);
    const temporalProcesses = ports.processes.map((each) =>
      temporalProcess(
        each,
        serverProcessEnvironment(each, ports, database, shards, security),
        binaries,
        layout,
        options,
      ),
    );
    started.processes.push(...temporalProcesses);
    await startTemporalProcesses(temporalProcesses, log);
    const address = `${HOST}:${frontendPorts(ports).grpc}`;
    // The cluster's own checks are an operator's: with the operators' certificate.
    const connection = await connectionOptions(address, tls?.operator);
    await untilServing(connection, options.startupTimeoutMs);
    options.signal?.throwIfAborted();
    await prepareNamespace(address, tls?.operator, options, path.join(layout.logs, 'temporal-namespace.log'));
    await untilSearchAttributesUsable(connection, options.namespace, options.startupTimeoutMs);
    log(`namespace ${options.namespace} ready`);
    options.signal?.throwIfAborted();
    const ui = await startUi(address, tls?.operator, binaries, layout, options, log);
    if (ui) started.processes.push(ui.process);
    return new RunningCluster(address, tls, ui?.url, ports, started, layout, options);
  } catch (err) {
    await started.stop();
    throw err;
  }
}

async function prepareLayout(dir: string): Promise<Layout> {
  const root = path.resolve(dir);
  const layout = {
    dir: root,
    pids: path.join(root, 'pids'),
    logs: path.join(root, 'logs'),
    postgres: path.join(root, 'postgres'),
    ui: path.join(root, 'ui'),
    tls: path.join(root, 'tls'),
  };
  await mkdir(root, { recursive: true });
  // Under root, PostgreSQL runs as the postgres user, which has to pass through this folder to its data.
  await chmod(root, 0o711);
  for (const folder of [layout.pids, layout.logs, layout.ui]) await mkdir(folder, { recursive: true, mode: 0o700 });
  return layout;
}

/**
 * The compose file's `temporal-tls` job: deploy/temporal/make-certificates.sh makes what is missing in `tls/` and
 * keeps what is there (a first start makes both CAs and every certificate; later ones find nothing to do).
 */
async function makeCertificates(layout: Layout, options: ClusterOptions, log: (message: string) => void) {
  await runOneShotJob('temporal-tls', MAKE_CERTIFICATES_SCRIPT, certificateJobEnvironment(layout.tls), {
    timeoutMs: options.startupTimeoutMs,
    logFile: path.join(layout.logs, 'temporal-tls.log'),
  });
  log(`mutual TLS with the certificates in ${layout.tls}`);
  return { dir: layout.tls, service: clientTls(layout.tls, 'service'), operator: clientTls(layout.tls, 'operator') };
}

/**
 * Without TLS, the processes cannot run ringpop on TLS: they read the shared dynamic config without that key, from
 * a copy written at each start (`dynamic-config.plain.yaml`).
 */
async function writePlainDynamicConfig(layout: Layout): Promise<string> {
  const file = path.join(layout.dir, 'dynamic-config.plain.yaml');
  await writeFile(file, plainDynamicConfig(await readFile(DYNAMIC_CONFIG_FILE, 'utf8')));
  return file;
}

/** How the cluster's own checks reach the frontend: plain, or over mutual TLS as `tls`'s holder. */
async function connectionOptions(address: string, tls: ClientTls | undefined): Promise<ConnectionOptions> {
  if (!tls) return { address };
  const [serverRootCACertificate, crt, key] = await Promise.all(
    [tls.caFile, tls.certFile, tls.keyFile].map((file) => readFile(file)),
  );
  return {
    address,
    tls: { serverRootCACertificate, clientCertPair: { crt: crt!, key: key! }, serverNameOverride: tls.serverName },
  };
}

function temporalProcess(
  ports: ProcessPorts,
  env: NodeJS.ProcessEnv,
  binaries: TemporalBinaries,
  layout: Layout,
  options: ClusterOptions,
): ClusterProcess {
  return new ClusterProcess({
    name: ports.name,
    command: binaries.server,
    args: ['--allow-no-auth', 'start', '--service', ports.service],
    port: ports.grpc,
    env,
    pidFile: path.join(layout.pids, `${ports.name}.pid`),
    logFile: path.join(layout.logs, `${ports.name}.log`),
    startupTimeoutMs: options.startupTimeoutMs,
    onUnexpectedExit: (code) => options.onUnexpectedExit?.(ports.name, code),
  });
}

/**
 * The first process alone, then the other services behind the frontend at once (they find each other through the
 * membership table, in any order), then the frontend: once it listens, what it forwards to is there.
 *
 * The first one alone, because each Temporal process writes the cluster's metadata row at start when it is missing
 * or differs from its configuration (a new database, a new TEMPORAL_PORT), and the processes that lose that race
 * exit ("Failed to apply cluster metadata"): Temporal's own compose files rely on a restart policy for that. Once
 * the first listens, the row is written and the others find it as they would have written it.
 */
async function startTemporalProcesses(processes: ClusterProcess[], log: (message: string) => void): Promise<void> {
  const start = async (process: ClusterProcess) => {
    await process.start();
    log(`${process.name} started (pid ${process.pid})`);
  };
  const [first, ...rest] = processes;
  if (first) await start(first);
  const frontends = rest.filter((process) => process.name.startsWith('frontend'));
  const results = await Promise.allSettled(rest.filter((process) => !frontends.includes(process)).map(start));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  for (const frontend of frontends) await start(frontend);
}

/** Waits until the frontend's health service says SERVING, as `temporal operator cluster health` asks it. */
async function untilServing(options: ConnectionOptions, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let last = 'no answer'; ; await sleep(250)) {
    try {
      const connection = await Connection.connect({ ...options, connectTimeout: 2000 });
      try {
        const { status } = await connection.healthService.check({ service: HEALTH_SERVICE });
        if (status === SERVING) return;
        last = `status ${status}`;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`the frontend at ${options.address} was not SERVING within ${timeoutMs} ms: ${last}`);
  }
}

/** The compose file's `temporal-namespace` job: the namespace, its retention and the search attributes. */
async function prepareNamespace(
  address: string,
  tls: ClientTls | undefined,
  options: ClusterOptions,
  logFile: string,
): Promise<void> {
  const env = namespaceJobEnvironment({
    address,
    tls,
    namespace: options.namespace,
    retentionDays: options.retentionDays,
    cliDir: path.join(path.resolve(options.toolsDir), 'venv', 'bin'),
  });
  // The script waits up to two minutes on its own for a namespace just created to reach the frontend's cache.
  await runOneShotJob('temporal-namespace', PREPARE_NAMESPACE_SCRIPT, env, {
    timeoutMs: options.startupTimeoutMs + 120_000,
    logFile,
  });
}

/**
 * Waits until the frontend accepts the search attributes in a query. The namespace job ends once they are
 * registered, but each process reads a namespace's search attributes from a cache it refreshes every few seconds
 * (measured here: 1 to 2 s): until then it refuses to start a workflow carrying one ("Namespace default has no
 * mapping defined for search attribute TranscriptionUserId"), which the API would answer with a 500.
 */
async function untilSearchAttributesUsable(
  options: ConnectionOptions,
  namespace: string,
  timeoutMs: number,
): Promise<void> {
  const query = CUSTOM_SEARCH_ATTRIBUTES.map(({ name }) => `${name} IS NULL`).join(' AND ');
  const connection = await Connection.connect(options);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace, query });
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`the frontend did not accept the query ${query} within ${timeoutMs} ms: ${String(err)}`);
        }
        await sleep(250);
      }
    }
  } finally {
    await connection.close();
  }
}

async function startUi(
  address: string,
  tls: ClientTls | undefined,
  binaries: TemporalBinaries,
  layout: Layout,
  options: ClusterOptions,
  log: (message: string) => void,
): Promise<{ process: ClusterProcess; url: string } | undefined> {
  if (options.uiPort === undefined) return undefined;
  if (!binaries.ui) {
    log('the Web UI server is not built (scripts/install-temporal-server.sh says why); running without the UI');
    return undefined;
  }
  const ui = await startUiProcess({
    address,
    tls,
    ui: binaries.ui,
    dir: layout.ui,
    port: options.uiPort,
    apiPort: options.apiPort,
    namespace: options.namespace,
    pidFile: path.join(layout.pids, 'ui-1.pid'),
    logFile: path.join(layout.logs, 'ui-1.log'),
    startupTimeoutMs: options.startupTimeoutMs,
    onUnexpectedExit: (code) => options.onUnexpectedExit?.('ui-1', code),
  });
  log(`Web UI at ${ui.url} (pid ${ui.process.pid})`);
  return ui;
}

/** What has started so far, to stop in reverse if a later step fails. */
class StartedParts {
  postgres: PostgresServer | undefined;
  readonly processes: ClusterProcess[] = [];

  /** The UI and the frontend first, so nothing new comes in; then the services behind them; PostgreSQL last. */
  async stop(): Promise<void> {
    for (const process of [...this.processes].reverse()) await process.stop();
    await this.postgres?.stop();
  }
}

class RunningCluster implements Cluster {
  readonly processes: readonly ClusterProcess[];

  constructor(
    readonly address: string,
    readonly tls: ClusterTls | undefined,
    readonly uiUrl: string | undefined,
    readonly ports: ClusterPorts,
    private readonly started: StartedParts,
    private readonly layout: Layout,
    private readonly options: ClusterOptions,
  ) {
    this.processes = [...started.processes];
  }

  process(name: string): ClusterProcess {
    const found = this.processes.find((process) => process.name === name);
    if (!found) throw new Error(`no process ${name} (${this.processes.map((process) => process.name).join(', ')})`);
    return found;
  }

  postgres(): PostgresServer {
    if (!this.started.postgres) throw new Error('PostgreSQL is not running');
    return this.started.postgres;
  }

  async restartPostgres(options: { kill?: boolean } = {}): Promise<void> {
    const postgres = this.postgres();
    await (options.kill ? postgres.kill() : postgres.stop());
    this.started.postgres = undefined;
    this.started.postgres = await startClusterPostgres({
      dataDir: this.layout.postgres,
      port: this.ports.postgres,
      startupTimeoutMs: this.options.startupTimeoutMs,
    });
  }

  stop(): Promise<void> {
    return this.started.stop();
  }
}
