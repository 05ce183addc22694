import { Connection } from '@temporalio/client';
import type { TemporalConnectionOptions } from '../src/temporal/connection-options';
import { Client as PgClient } from 'pg';
import { scrapeLatencies } from './profile';

/**
 * What a Temporal server did for the load, counted by the server or its database rather than timed: history
 * events (from each job's execution), and persistence requests (the dev server's Prometheus metrics) or, on the
 * cluster, PostgreSQL's own transaction and row counters.
 */
export interface ServerWorkProbe {
  /** Cumulative counters by name, read now; a scenario's share is the difference of two reads. */
  counters(): Promise<Record<string, number>>;
  /** How long after the load has ended a read must wait to include all of it. */
  settleMs: number;
  /** The history events of these workflows (one per job) so far, each read from its execution. */
  historyEvents(workflowIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

/** Describes run at once when counting history events. */
const DESCRIBE_CONCURRENCY = 10;

/** A probe whose history events come from the frontend `frontend` reaches and counters from `counters`. */
function probe(
  frontend: TemporalConnectionOptions,
  namespace: string,
  counters: () => Promise<Record<string, number>>,
  settleMs: number,
): ServerWorkProbe {
  let connection: Promise<Connection> | undefined;
  return {
    counters,
    settleMs,
    async historyEvents(workflowIds) {
      connection ??= Connection.connect(frontend);
      const { workflowService } = await connection;
      let events = 0;
      for (let start = 0; start < workflowIds.length; start += DESCRIBE_CONCURRENCY) {
        const batch = workflowIds.slice(start, start + DESCRIBE_CONCURRENCY);
        const lengths = await Promise.all(
          batch.map(async (workflowId) => {
            const described = await workflowService.describeWorkflowExecution({ namespace, execution: { workflowId } });
            return Number(described.workflowExecutionInfo?.historyLength ?? 0);
          }),
        );
        events += lengths.reduce((sum, length) => sum + length, 0);
      }
      return events;
    },
    async close() {
      await (await connection)?.close();
    },
  };
}

/** The dev server: its `persistence_latency` and `visibility_persistence_latency` counts, from its metrics port. */
export function devServerWork(address: string, namespace: string, metricsUrl: string): ServerWorkProbe {
  return probe(
    { address },
    namespace,
    async () => {
      const totals = await scrapeLatencies(metricsUrl);
      const count = (family: string) =>
        [...totals.entries()]
          .filter(([key]) => key.startsWith(`${family}|`))
          .reduce((sum, [, { count: calls }]) => sum + calls, 0);
      return {
        'persistence requests': count('persistence_latency'),
        'visibility requests': count('visibility_persistence_latency'),
      };
    },
    0,
  );
}

/**
 * PostgreSQL publishes a backend's statistics when its transaction ends, at most once a second, and an idle one's
 * within 10 s (PGSTAT_IDLE_INTERVAL): a read 11 s after the load has seen all of it.
 * https://www.postgresql.org/docs/15/monitoring-stats.html#MONITORING-STATS-VIEWS
 */
const POSTGRES_STATS_DELAY_MS = 11_000;

/**
 * The cluster: PostgreSQL's transactions (commits and rollbacks; each statement outside a transaction is one) in
 * Temporal's two databases, and the rows written in both. The cluster's processes serve no metrics:
 * `startCluster()` gives them no PROMETHEUS_ENDPOINT.
 */
export function clusterServerWork(
  frontend: TemporalConnectionOptions,
  namespace: string,
  postgresUrl: string,
  databases: { temporal: string; visibility: string },
): ServerWorkProbe {
  return probe(
    frontend,
    namespace,
    async () => {
      const client = new PgClient({ connectionString: postgresUrl });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string; transactions: string; written: string }>(
          `SELECT datname, xact_commit + xact_rollback AS transactions,
                  tup_inserted + tup_updated + tup_deleted AS written
             FROM pg_stat_database WHERE datname = ANY($1)`,
          [[databases.temporal, databases.visibility]],
        );
        const row = (name: string) => rows.find((each) => each.datname === name);
        return {
          'PostgreSQL transactions, temporal': Number(row(databases.temporal)?.transactions ?? 0),
          'PostgreSQL transactions, visibility': Number(row(databases.visibility)?.transactions ?? 0),
          'PostgreSQL rows written': rows.reduce((sum, each) => sum + Number(each.written), 0),
        };
      } finally {
        await client.end();
      }
    },
    POSTGRES_STATS_DELAY_MS,
  );
}
