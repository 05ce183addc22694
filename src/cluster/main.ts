import path from 'node:path';
import { loadConfig, type Config } from '../config/config';
import { createLogger } from '../logger';
import { onShutdown } from '../process/process-lifecycle';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { startCluster, type Cluster } from './cluster';
import { HISTORY_SHARDS } from './server-config';

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
    `  Temporal frontend   ${cluster.address}`,
    `  Run the service     TEMPORAL_ADDRESS=${cluster.address} npm start`,
    `  Web UI              ${cluster.uiUrl ?? '(not built: bash scripts/setup.sh temporal-server says why)'}`,
    `  Namespace           ${config.temporal.namespace}, retention ${config.temporal.retentionDays} days, ` +
      `search attributes ${CUSTOM_SEARCH_ATTRIBUTES.map((key) => key.name).join(', ')}`,
    ...cluster.processes.map((each) => `  ${each.name.padEnd(20)}pid ${each.pid}`),
    `  PostgreSQL          ${postgres.host}:${postgres.port}, pid ${postgres.pid}`,
    `  History shards      ${HISTORY_SHARDS}`,
    `  Data                ${dir} (pids/, logs/, postgres/)`,
    '',
    '  Ctrl-C stops everything; starting again reuses the data.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  createLogger('cluster', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
