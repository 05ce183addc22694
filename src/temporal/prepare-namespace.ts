import type { Connection } from '@temporalio/client';
import type { Config } from '../config/config';
import { temporalConnectionOptions, type TemporalConnectionOptions } from './connection-options';
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
  const toAdd = await missingSearchAttributes(connection, namespace);
  if (toAdd.length > 0) {
    const searchAttributes = Object.fromEntries(
      toAdd.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
    );
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
    } catch (err) {
      // Another process may have registered them at the same moment; only a still-missing attribute is an error.
      if ((await missingSearchAttributes(connection, namespace)).length > 0) throw err;
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

/**
 * Checks that a namespace operators prepare themselves has the service's search attributes: without them no job
 * could start, so the process refuses to start instead, saying how to register them.
 */
export async function checkNamespace(connection: Connection, namespace: string): Promise<void> {
  const missing = await missingSearchAttributes(connection, namespace);
  if (missing.length === 0) return;
  const create = missing.map((key) => `--name ${key.name} --type ${key.type}`).join(' ');
  throw new Error(
    `namespace ${namespace} lacks the search attribute${missing.length === 1 ? '' : 's'} ${missing.map((key) => key.name).join(', ')}; ` +
      `register ${missing.length === 1 ? 'it' : 'them'} (temporal operator search-attribute create --namespace ${namespace} ${create}) ` +
      'or let the service do it (TEMPORAL_PREPARE_NAMESPACE=true)',
  );
}

/** The service's search attributes the namespace has not registered. */
async function missingSearchAttributes(connection: Connection, namespace: string) {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return CUSTOM_SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
}

/**
 * Connects to Temporal as configured (waiting for it to come up) and makes the namespace ready, or, when operators
 * prepare it (TEMPORAL_PREPARE_NAMESPACE=false), checks that it is.
 */
export async function connectPreparedClient(
  { temporal }: Config,
  options?: TemporalConnectionOptions,
): Promise<Connection> {
  const connection = await connectClient({
    ...(options ?? (await temporalConnectionOptions(temporal))),
    namespace: temporal.namespace,
    timeoutMs: temporal.startupTimeoutMs,
  });
  try {
    if (temporal.prepareNamespace) {
      await prepareNamespace(connection, { namespace: temporal.namespace, retentionDays: temporal.retentionDays });
    } else {
      await checkNamespace(connection, temporal.namespace);
    }
  } catch (err) {
    await connection.close();
    throw err;
  }
  return connection;
}
