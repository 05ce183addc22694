import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { AsrClient } from '../asr/asr-client';
import { CallbackSender } from '../callbacks/callback-sender';
import { CallbackUrlPolicy } from '../callbacks/callback-url-policy';
import type { AsrCallSlots } from '../asr/asr-call-slots';
import { serviceDataConverter } from '../codec/data-converter';
import type { Config } from '../config/config';
import type { JobsDatabase } from '../jobs-database/jobs-database';
import { TranscriptionJobs } from '../jobs/transcription-jobs';
import { createAudioStore } from '../storage/create-audio-store';
import { transcriptionJobsOptions } from '../temporal/connect-jobs';

/**
 * The transcription worker: runs the workflows and their `transcribeChunk` activities on the task queue, and
 * `deliverCallback` on the callback queue and `expireUploads` on the maintenance queue beside it, so neither ever
 * takes a slot kept for an ASR call.
 */
export async function createTranscriptionWorkers(options: {
  connection: NativeConnection;
  config: Config;
  asrUrl: string;
  workflowBundle: WorkflowBundleOption;
  /**
   * Encrypts what the worker writes to Temporal (chunk transcripts, the stitched transcript, failure messages) and
   * decrypts what it reads. The workflow bundle must be built with the same failure converter (`npm run build`).
   */
  codec: PayloadCodec;
  /** How many chunks (ASR calls) this worker runs at once: its share of the fleet's limit. */
  asrSlots: AsrCallSlots;
  /** How this worker appears among the task queue's pollers (and in the Web UI). */
  identity: string;
  /** The jobs database, written by the workflows' local activities, the chunks and the housekeeping. */
  records: JobsDatabase;
}): Promise<Worker[]> {
  const { config } = options;
  const audio = createAudioStore(config.audio);
  const { transcribeChunk, deliverCallback, expireUploads, ...records } = createActivities({
    records: options.records,
    temporalJobs: (client) => new TranscriptionJobs(client, transcriptionJobsOptions(config)),
    recordRetentionDays: config.jobsDatabase.recordRetentionDays,
    asr: new AsrClient({
      url: options.asrUrl,
      apiKey: config.asr.apiKey,
      model: config.asr.model,
      responseFormat: config.asr.responseFormat,
      timeoutMs: config.asr.timeoutMs,
    }),
    audio,
    asrCalls: options.asrSlots,
    callbacks: new CallbackSender({
      policy: new CallbackUrlPolicy(config.callbacks.allowList),
      allowPrivateAddresses: config.callbacks.allowPrivateAddresses,
      signingSecret: config.callbacks.signingSecret,
      timeoutMs: config.callbacks.timeoutMs,
    }),
  });
  const common = {
    connection: options.connection,
    namespace: config.temporal.namespace,
    identity: options.identity,
    // The SDK's default of 0 would cancel every chunk under way the moment the worker is asked to stop.
    shutdownGraceTime: config.worker.shutdownGraceMs,
    dataConverter: serviceDataConverter(options.codec),
  };
  const callbackWorker = Worker.create({
    ...common,
    taskQueue: config.callbacks.taskQueue,
    activities: { deliverCallback },
  });
  const maintenanceWorker = Worker.create({
    ...common,
    taskQueue: config.temporal.maintenanceTaskQueue,
    activities: {
      expireUploads,
      reconcileJobRecords: records.reconcileJobRecords,
      expireJobRecords: records.expireJobRecords,
    },
  });
  const transcriptionWorker = Worker.create({
    ...common,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: options.workflowBundle,
    // The job-record writes run here as the workflow's local activities.
    activities: {
      transcribeChunk,
      recordJobStarted: records.recordJobStarted,
      recordJobEnded: records.recordJobEnded,
    },
    // Chunks spend their time waiting on the ASR, so one worker can hold many more than the SDK's default of 100;
    // how many is the fleet's decision, not just this worker's. The other kinds keep the SDK's default sizes.
    tuner: {
      activityTaskSlotSupplier: options.asrSlots,
      workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 40 },
      localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 100 },
      nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 100 },
    },
    // The default of 10 fixed pollers starts chunks far slower than a burst of hundreds arrives; autoscaling
    // pollers follow the backlog up and back down.
    activityTaskPollerBehavior: autoscalingPollers(
      Math.min(config.worker.maxActivityPollers, config.worker.maxConcurrentActivities),
    ),
    workflowTaskPollerBehavior: autoscalingPollers(config.worker.maxWorkflowPollers),
    // A job's first workflow task schedules every chunk; taken eagerly, each comes back in that task's answer instead
    // of through the task queue, sparing the server a matching round trip and a write per chunk. The SDK's default
    // of 3 left most chunks of a job to the queue. Each one still needs a free ASR slot, so the fleet's limit holds.
    maxEagerActivityReservationsPerWorkflowTask: config.audio.maxChunksPerJob,
  });
  return Promise.all([transcriptionWorker, callbackWorker, maintenanceWorker]);
}

/** Pollers from 1 up to `maximum`; the SDK starts at 5, which must not exceed the maximum. */
function autoscalingPollers(maximum: number) {
  return { type: 'autoscaling', minimum: 1, maximum, initial: Math.min(5, maximum) } as const;
}
