import type { Connection } from '@temporalio/client';
import type { Config } from '../config';
import { connectClient } from './wait-for-temporal';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';

const DAY_SECONDS = 24 * 60 * 60;

/**
 * Makes the namespace ready for jobs, idempotently, on every start: registers the custom search attributes
 * (the dev server's `--search-attribute` flag is ignored for a database that already exists) and sets how long
 * finished jobs are kept (the default namespace keeps them only 24 hours). Safe to run from several processes.
 */
export async function prepareNamespace(
  connection: Connection,
  options: { namespace: string; retentionDays: number },
): Promise<void> {
  const { namespace } = options;
  const missing = async (): Promise<Record<string, temporal.api.enums.v1.IndexedValueType>> => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const wanted: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
    for (const key of CUSTOM_SEARCH_ATTRIBUTES) {
      if (!customAttributes?.[key.name])
        wanted[key.name] = temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`];
    }
    return wanted;
  };
  const toAdd = await missing();
  if (Object.keys(toAdd).length > 0) {
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: toAdd });
    } catch (err) {
      // Another process may have registered them at the same moment; only a still-missing attribute is an error.
      if (Object.keys(await missing()).length > 0) throw err;
    }
  }

  const retentionSeconds = options.retentionDays * DAY_SECONDS;
  const described = await connection.workflowService.describeNamespace({ namespace });
  const current = Number(described.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
  if (current !== retentionSeconds) {
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: msToTs(retentionSeconds * 1000) },
    });
  }
}

/** Connects to Temporal as configured (waiting for it to come up) and makes the namespace ready. */
export async function connectPreparedClient({ temporal }: Config): Promise<Connection> {
  const connection = await connectClient({
    address: temporal.address,
    namespace: temporal.namespace,
    timeoutMs: temporal.startupTimeoutMs,
  });
  await prepareNamespace(connection, { namespace: temporal.namespace, retentionDays: temporal.retentionDays });
  return connection;
}
