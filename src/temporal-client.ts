import { Client } from '@temporalio/client';
import type { Config } from './config';
import { TranscriptionJobs } from './jobs/transcription-jobs';
import { connectPreparedClient } from './temporal/prepare-namespace';

/** Connects to Temporal as configured, makes the namespace ready, and returns the jobs service over it. */
export async function connectJobs(config: Config): Promise<{ client: Client; jobs: TranscriptionJobs }> {
  const { temporal } = config;
  const connection = await connectPreparedClient(config);
  const client = new Client({ connection, namespace: temporal.namespace });
  const jobs = new TranscriptionJobs(client, {
    taskQueue: temporal.taskQueue,
    retry: config.chunkRetry,
    timeouts: config.chunkTimeouts,
    queryTimeoutMs: config.api.queryTimeoutMs,
  });
  return { client, jobs };
}
