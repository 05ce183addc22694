import path from 'node:path';
import { loadConfig, type Config } from '../config/config';
import { createLogger } from '../logger';
import { onShutdown } from '../process/process-lifecycle';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { serviceEnvironment, startCluster, type Cluster } from './cluster';
import { HISTORY_SHARDS, type ClientTls } from './server-config';

/**
 * `npm run cluster`: a Temporal cluster of the compose file's release on this machine, one process per service, on
 * PostgreSQL, in `$DATA_DIR/cluster` (docs/cluster.md). Ctrl-C or SIGTERM stops it in order, also during its start;
 * starting it again reuses the data. If a process dies on its own, the rest is stopped and this exits with 1.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('cluster', config.logLevel);
  const abort = new AbortController();
  let stopping = false;
  /** Stops what runs and exits with 1; once, whatever failed first. */
  const failed = (message: string): void => {
    if (stopping) return;
    stopping = true;
    logger.error(message);
    void starting
      .then((cluster) => cluster.stop())
      .catch(() => undefined)
      .finally(() => process.exit(1));
  };
  const starting = startCluster({
    dir: clusterDir(config),
    toolsDir: config.temporal.toolsDir,
    port: config.temporal.devServerPort,
    uiPort: config.temporal.devServerUiPort,
    apiPort: config.api.port === 0 ? undefined : config.api.port,
    namespace: config.temporal.namespace,
    retentionDays: config.temporal.retentionDays,
    tls: config.temporal.clusterTls,
    startupTimeoutMs: config.temporal.startupTimeoutMs,
    log: (message) => logger.info(message),
    onUnexpectedExit: (name, code) => {
      if (!stopping) failed(`${name} exited on its own (code ${code}); stopping the cluster`);
    },
    signal: abort.signal,
  });
  onShutdown(
    async () => {
      stopping = true;
      abort.abort();
      // A start under way stops what it started itself when it sees the abort.
      const cluster = await starting.catch(() => undefined);
      await cluster?.stop();
    },
    (message) => logger.info(message),
  );
  let cluster: Cluster;
  try {
    cluster = await starting;
  } catch (err) {
    if (abort.signal.aborted) return;
    throw err;
  }
  // The Temporal processes would only retry without it; like a process that dies, it ends the cluster.
  void cluster.postgres().exited.then(() => !stopping && failed(`PostgreSQL exited on its own; stopping the cluster`));
  printBanner(config, cluster);
}

function clusterDir(config: Config): string {
  return path.join(path.resolve(config.dataDir), 'cluster');
}

function printBanner(config: Config, cluster: Cluster): void {
  const dir = clusterDir(config);
  const postgres = cluster.postgres();
  const lines = [
    '',
    `  Temporal frontend   ${cluster.address}` +
      (cluster.tls ? `, mutual TLS (certificates in ${cluster.tls.dir})` : ', plain gRPC (TEMPORAL_CLUSTER_TLS=false)'),
    ...labelled('Run the service', `${shellAssignments(serviceEnvironment(cluster))} npm start`),
    ...(cluster.tls ? labelled('Temporal CLI', cliCommand(cluster.address, cluster.tls.operator)) : []),
    `  Web UI              ${cluster.uiUrl ?? '(not built: bash scripts/setup.sh temporal-server says why)'}`,
    `  Namespace           ${config.temporal.namespace}, retention ${config.temporal.retentionDays} days, ` +
      `search attributes ${CUSTOM_SEARCH_ATTRIBUTES.map((key) => key.name).join(', ')}`,
    ...cluster.processes.map((each) => `  ${each.name.padEnd(20)}pid ${each.pid}`),
    `  PostgreSQL          ${postgres.host}:${postgres.port}, pid ${postgres.pid}`,
    `  History shards      ${HISTORY_SHARDS}`,
    `  Data                ${dir} (pids/, logs/, postgres/${cluster.tls ? ', tls/' : ''})`,
    '',
    '  Ctrl-C stops everything; starting again reuses the data.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `temporal operator cluster health` as an operator runs it against the cluster, with the operators' certificate. */
function cliCommand(address: string, tls: ClientTls): string {
  return [
    `temporal operator cluster health --address ${address}`,
    `--tls-ca-path ${shellWord(tls.caFile)}`,
    `--tls-cert-path ${shellWord(tls.certFile)}`,
    `--tls-key-path ${shellWord(tls.keyFile)}`,
    `--tls-server-name ${shellWord(tls.serverName)}`,
  ].join(' \\\n');
}

/** A command under its label, its continued lines (ending in a backslash) indented under its first. */
function labelled(label: string, command: string): string[] {
  return command
    .split('\n')
    .map((line, index) => `  ${(index === 0 ? label : '').padEnd(20)}${index ? '  ' : ''}${line}`);
}

/** `KEY=value` words, one per line, continued with backslashes, so the command can be pasted as it is. */
function shellAssignments(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `${key}=${shellWord(value)}`)
    .join(' \\\n');
}

/** The value as one shell word: as it is when it has nothing the shell would read, else in single quotes. */
function shellWord(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

main().catch((err: unknown) => {
  createLogger('cluster', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
