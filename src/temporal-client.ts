import { Client } from '@temporalio/client';
import type { Config } from './config';
import { TranscriptionJobs } from './jobs/transcription-jobs';
import { prepareNamespace } from './temporal/prepare-namespace';
import { connectClient } from './temporal/wait-for-temporal';

/** Connects to Temporal as configured, makes the namespace ready, and returns the jobs service over it. */
export async function connectJobs(config: Config): Promise<{ client: Client; jobs: TranscriptionJobs }> {
  const { temporal } = config;
  const connection = await connectClient({
    address: temporal.address,
    namespace: temporal.namespace,
    timeoutMs: temporal.startupTimeoutMs,
  });
  await prepareNamespace(connection, { namespace: temporal.namespace, retentionDays: temporal.retentionDays });
  const client = new Client({ connection, namespace: temporal.namespace });
  const jobs = new TranscriptionJobs(client, {
    taskQueue: temporal.taskQueue,
    retry: config.chunkRetry,
    timeouts: config.chunkTimeouts,
    queryTimeoutMs: config.api.queryTimeoutMs,
  });
  return { client, jobs };
}
