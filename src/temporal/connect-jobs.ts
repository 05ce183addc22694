import { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { serviceDataConverter } from '../codec/data-converter';
import type { Config } from '../config/config';
import { TranscriptionJobs, type TranscriptionJobsOptions } from '../jobs/transcription-jobs';
import { connectPreparedClient } from './prepare-namespace';

/**
 * Connects to Temporal as configured, makes the namespace ready, and returns the jobs service over it. Every
 * payload the client writes, failure messages included, goes through `codec`, so job data is encrypted before it
 * reaches Temporal.
 */
export async function connectJobs(
  config: Config,
  codec: PayloadCodec,
): Promise<{ client: Client; jobs: TranscriptionJobs }> {
  const { temporal } = config;
  const connection = await connectPreparedClient(config);
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter: serviceDataConverter(codec) });
  return { client, jobs: new TranscriptionJobs(client, transcriptionJobsOptions(config)) };
}

/** How jobs are started and read, from the configuration. */
export function transcriptionJobsOptions(config: Config): TranscriptionJobsOptions {
  return {
    taskQueue: config.temporal.taskQueue,
    retry: config.chunkRetry,
    timeouts: config.chunkTimeouts,
    queryTimeoutMs: config.api.queryTimeoutMs,
    callbacks: {
      taskQueue: config.callbacks.taskQueue,
      retry: config.callbacks.retry,
      timeoutMs: config.callbacks.timeoutMs,
    },
  };
}
