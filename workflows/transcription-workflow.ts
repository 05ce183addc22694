import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  isCancellation,
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { createActivities } from '../activities';
import {
  CALLBACK_DELIVERY_WORKFLOW_TYPE,
  JOB_FAILED_ERROR,
  chunkAttemptFailedSignal,
  NON_RETRYABLE_CHUNK_ERRORS,
  chunkActivityId,
  jobStateQuery,
  type ChunkAttemptFailure,
  type ChunkFailureDetails,
  type ChunkState,
  type TranscriptionJobInput,
  type CallbackDeliveryInput,
  type JobStatus,
  type TranscriptionJobState,
  type TranscriptResult,
} from './contract';
import { progressDetails } from './progress-details';
import { temporalRetryPolicy } from './retry-policy';
import { initialJobState, transcriptResult } from './transcript-result';
import { stitchTranscript } from './stitch-transcript';

type Activities = ReturnType<typeof createActivities>;

/** The failure reason of a job cancelled from outside. */
const CANCELED = 'canceled';

/**
 * One transcription job: every chunk is transcribed at once by its own `transcribeChunk` activity, retried by
 * Temporal under a declarative policy; the transcripts are stitched in chunk order. A chunk that fails for good
 * fails the job once the other chunks have finished, with the job's state in the failure's details. A job
 * cancelled from outside (`DELETE /transcript/{jobId}`) fails the same way with the reason "canceled": its
 * activities are cancelled, which aborts their ASR calls, and the chunks already transcribed keep their text.
 * A job that retries a failed one starts with that job's transcribed chunks and sends only the others to the ASR.
 */
export async function TranscriptionWorkflow(input: TranscriptionJobInput): Promise<TranscriptionJobState> {
  const state = initialJobState(input);
  setHandler(jobStateQuery, () => state);
  const total = state.chunks.length;
  // Counted once per job, when it ends; the SDK does not count again when the workflow is replayed.
  const jobsEnded = metricMeter.createCounter('transcription_jobs', '', 'Jobs ended, by outcome.');
  const reportProgress = (): void => setCurrentDetails(progressDetails(state.chunks));
  reportProgress();
  setHandler(chunkAttemptFailedSignal, (failure) => {
    if (noteRetry(state, failure, input.retry.maximumAttempts)) reportProgress();
  });

  const records = jobRecords();
  // Recorded beside the first chunks, not before them: the API has most likely recorded the start already.
  const startRecorded = patched(JOB_RECORD_STARTED_PATCH)
    ? records.recordJobStarted(resultOf(input, state, 'in_progress'))
    : Promise.resolve();
  const transcribe = chunkTranscriber(input);
  try {
    await Promise.all(
      state.chunks
        .filter((chunk) => chunk.status !== 'completed')
        .map(async (chunk) => {
          await transcribe(chunk, total);
          reportProgress();
        }),
    );
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelUnfinished(state);
    jobsEnded.add(1, { outcome: CANCELED });
    // The job was cancelled, not its record or its callback: both still say that it ended.
    await CancellationScope.nonCancellable(async () => {
      await startRecorded;
      await endJob(input, state, 'failed', records);
    });
    throw jobFailed(CANCELED, state);
  }

  await startRecorded;
  state.completedTime = new Date().toISOString();
  const failed = state.chunks.filter((chunk) => chunk.status === 'failed');
  if (failed.length > 0) {
    jobsEnded.add(1, { outcome: 'failed' });
    // Numbered from 1, as the chunk activities' summaries and the current details number them in the Web UI.
    state.failureReason = failed.map((chunk) => `chunk ${chunk.index + 1} (${chunk.path}): ${chunk.error}`).join('; ');
    await endJob(input, state, 'failed', records);
    throw jobFailed(`${failed.length} of ${total} chunks failed: ${state.failureReason}`, state);
  }
  state.transcription = stitchTranscript(state.chunks.map((chunk) => chunk.transcript ?? ''));
  jobsEnded.add(1, { outcome: 'completed' });
  await endJob(input, state, 'completed', records);
  return state;
}

/** Records a failed attempt that will be retried; false when there is nothing new to show. */
function noteRetry(state: TranscriptionJobState, failure: ChunkAttemptFailure, maximumAttempts: number): boolean {
  const chunk = state.chunks[failure.index];
  // A late signal must not undo what the chunk's result already said.
  if (!chunk || chunk.status === 'completed' || chunk.status === 'failed') return false;
  // After the last attempt no retry follows: the activity's failure says the rest.
  if (failure.attempt >= maximumAttempts) return false;
  chunk.status = 'in_progress';
  chunk.attempts = Math.max(chunk.attempts, failure.attempt);
  chunk.error = failure.error;
  return true;
}

/**
 * Transcribes one chunk through its activity, under the job's retry policy, and records how it ended. Only a
 * cancellation escapes: a chunk that fails for good is recorded as failed and the others go on.
 */
function chunkTranscriber(input: TranscriptionJobInput) {
  const { workflowId } = workflowInfo();
  const { transcribeChunk } = proxyActivities<Activities>({
    startToCloseTimeout: input.timeouts.startToCloseMs,
    heartbeatTimeout: input.timeouts.heartbeatMs,
    retry: temporalRetryPolicy(input.retry, NON_RETRYABLE_CHUNK_ERRORS),
  });
  return async (chunk: ChunkState, total: number): Promise<void> => {
    try {
      const result = await transcribeChunk.executeWithOptions(
        { activityId: chunkActivityId(chunk.index), summary: `chunk ${chunk.index + 1}/${total}: ${chunk.path}` },
        [{ jobId: workflowId, userId: input.userId, index: chunk.index, path: chunk.path }],
      );
      chunk.status = 'completed';
      chunk.error = null;
      chunk.transcript = result.transcript;
      chunk.segments = result.segments;
      chunk.durationSeconds = result.durationSeconds;
      chunk.attempts = result.attempt;
    } catch (err) {
      if (isCancellation(err)) throw err;
      chunk.status = 'failed';
      chunk.error = failureMessage(err);
      chunk.attempts = failedAttempts(err, input.retry.maximumAttempts);
    }
  };
}

/** A cancelled job: every chunk not transcribed fails with the reason "canceled". */
function cancelUnfinished(state: TranscriptionJobState): void {
  for (const chunk of state.chunks) {
    if (chunk.status === 'completed') continue;
    chunk.status = 'failed';
    chunk.error = CANCELED;
  }
  state.completedTime = new Date().toISOString();
  state.failureReason = CANCELED;
}

/**
 * The job's record is written by local activities: the jobs database is the worker's own, and a write takes
 * milliseconds. They retry until the database answers, however long: a record that is late is repaired by the
 * wait, one that is lost is not. Each write is an idempotent upsert, so a retry never writes twice.
 */
function jobRecords() {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
}

/** Patch ids: workflows started before the jobs database replay without these writes. */
const JOB_RECORD_STARTED_PATCH = 'job-record-started';
const JOB_RECORD_ENDED_PATCH = 'job-record-ended';

/** The job as the API answers it. */
function resultOf(input: TranscriptionJobInput, state: TranscriptionJobState, jobStatus: JobStatus): TranscriptResult {
  const { workflowId, startTime } = workflowInfo();
  return transcriptResult({
    ...state,
    jobId: workflowId,
    jobStatus,
    createdTime: input.createdTime ?? startTime.toISOString(),
    retriedFrom: input.retryOf?.jobId ?? null,
  });
}

/** Records how the job ended, then tells its callback. A job that began before the jobs database still gets its record. */
async function endJob(
  input: TranscriptionJobInput,
  state: TranscriptionJobState,
  jobStatus: JobStatus,
  records: ReturnType<typeof jobRecords>,
): Promise<void> {
  const result = resultOf(input, state, jobStatus);
  if (patched(JOB_RECORD_ENDED_PATCH)) await records.recordJobEnded(result);
  await startCallback(input, result);
}

/**
 * Starts the delivery of the job's result to its callback URL, if it has one, as a workflow of its own that
 * outlives this one: the job ends now, and the delivery retries for as long as its policy allows.
 */
async function startCallback(input: TranscriptionJobInput, result: TranscriptResult) {
  if (!input.callback) return;
  const { workflowId } = workflowInfo();
  const { jobStatus } = result;
  const deliveryId = `${workflowId}-callback`;
  const delivery: CallbackDeliveryInput = {
    delivery: { url: input.callback.url, deliveryId, jobId: workflowId, body: JSON.stringify(result) },
    settings: input.callback,
  };
  await startChild(CALLBACK_DELIVERY_WORKFLOW_TYPE, {
    workflowId: deliveryId,
    args: [delivery],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `Callback of ${workflowId} (${jobStatus}) to ${new URL(input.callback.url).origin}`,
  });
}

/** How a job fails: with its state in the details, so the API reads the chunks from the failure. */
function jobFailed(message: string, state: TranscriptionJobState): ApplicationFailure {
  return ApplicationFailure.create({ type: JOB_FAILED_ERROR, message, nonRetryable: true, details: [state] });
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Activities put their attempt number in their failure's details; a timeout carries none, so infer it. */
function failedAttempts(err: unknown, maximumAttempts: number): number {
  if (!(err instanceof ActivityFailure)) return 1;
  if (err.cause instanceof ApplicationFailure) {
    const [details] = err.cause.details ?? [];
    const attempt = (details as Partial<ChunkFailureDetails> | undefined)?.attempt;
    if (typeof attempt === 'number') return attempt;
  }
  return err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? maximumAttempts : 1;
}
