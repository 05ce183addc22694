import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TemporalConnectionOptions } from './connection-options';

async function retryUntil<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(
          `${what} did not answer within ${timeoutMs} ms: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      await sleep(250);
    }
  }
}

/** A client connection to Temporal, waiting up to `timeoutMs` for the server to come up and serve the namespace. */
export function connectClient(
  options: TemporalConnectionOptions & { namespace: string; timeoutMs: number },
): Promise<Connection> {
  const { namespace, timeoutMs, ...connectionOptions } = options;
  return retryUntil(`Temporal at ${options.address}`, timeoutMs, async () => {
    const connection = await Connection.connect({ ...connectionOptions, connectTimeout: 2000 });
    try {
      await connection.withDeadline(Date.now() + 2000, () =>
        connection.workflowService.describeNamespace({ namespace }),
      );
      return connection;
    } catch (err) {
      await connection.close();
      throw err;
    }
  });
}

/** The worker's native connection to Temporal, waiting up to `timeoutMs` for the server. */
export function connectWorker(options: TemporalConnectionOptions & { timeoutMs: number }): Promise<NativeConnection> {
  const { timeoutMs, ...connectionOptions } = options;
  return retryUntil(`Temporal at ${options.address}`, timeoutMs, () => NativeConnection.connect(connectionOptions));
}
