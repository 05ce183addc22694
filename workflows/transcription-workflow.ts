import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  isCancellation,
  metricMeter,
  proxyActivities,
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
  initialChunkStates,
  jobStateQuery,
  type ChunkFailureDetails,
  type TranscriptionJobInput,
  type CallbackDeliveryInput,
  type JobStatus,
  type TranscriptResult,
  type TranscriptionJobState,
} from './contract';
import { progressDetails } from './progress-details';
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
  const { workflowId } = workflowInfo();
  const state: TranscriptionJobState = {
    userId: input.userId,
    chunks: initialChunkStates(input.audioChunkPaths),
    transcription: null,
    completedTime: null,
    failureReason: null,
  };
  setHandler(jobStateQuery, () => state);
  for (const reused of input.retryOf?.completedChunks ?? []) {
    const chunk = state.chunks[reused.index];
    if (chunk) Object.assign(chunk, reused, { status: 'completed', error: null });
  }

  const { transcribeChunk } = proxyActivities<Activities>({
    startToCloseTimeout: input.timeouts.startToCloseMs,
    heartbeatTimeout: input.timeouts.heartbeatMs,
    retry: {
      maximumAttempts: input.retry.maximumAttempts,
      initialInterval: input.retry.initialIntervalMs,
      backoffCoefficient: input.retry.backoffCoefficient,
      maximumInterval: input.retry.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE_CHUNK_ERRORS,
    },
  });

  const total = state.chunks.length;
  // Counted once per job, when it ends; the SDK does not count again when the workflow is replayed.
  const jobsEnded = metricMeter.createCounter('transcription_jobs', '', 'Jobs ended, by outcome.');
  const reportProgress = (): void => setCurrentDetails(progressDetails(state.chunks));
  reportProgress();
  setHandler(chunkAttemptFailedSignal, ({ index, attempt, error }) => {
    const chunk = state.chunks[index];
    // A late signal must not undo what the chunk's result already said.
    if (!chunk || chunk.status === 'completed' || chunk.status === 'failed') return;
    // After the last attempt no retry follows: the activity's failure says the rest.
    if (attempt >= input.retry.maximumAttempts) return;
    chunk.status = 'in_progress';
    chunk.attempts = Math.max(chunk.attempts, attempt);
    chunk.error = error;
    reportProgress();
  });

  try {
    await Promise.all(
      state.chunks
        .filter((chunk) => chunk.status !== 'completed')
        .map(async (chunk) => {
          try {
            const result = await transcribeChunk.executeWithOptions(
              { activityId: chunkActivityId(chunk.index), summary: `chunk ${chunk.index + 1}/${total}: ${chunk.path}` },
              [{ jobId: workflowId, index: chunk.index, path: chunk.path }],
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
          reportProgress();
        }),
    );
  } catch (err) {
    if (!isCancellation(err)) throw err;
    for (const chunk of state.chunks) {
      if (chunk.status === 'completed') continue;
      chunk.status = 'failed';
      chunk.error = CANCELED;
    }
    state.completedTime = new Date().toISOString();
    state.failureReason = CANCELED;
    jobsEnded.add(1, { outcome: CANCELED });
    // The job was cancelled, not its callback: the receiver still hears that it ended.
    await CancellationScope.nonCancellable(() => startCallback(input, state, 'failed'));
    throw jobFailed(CANCELED, state);
  }

  state.completedTime = new Date().toISOString();
  const failed = state.chunks.filter((chunk) => chunk.status === 'failed');
  if (failed.length > 0) {
    jobsEnded.add(1, { outcome: 'failed' });
    // Numbered from 1, as the chunk activities' summaries and the current details number them in the Web UI.
    state.failureReason = failed.map((chunk) => `chunk ${chunk.index + 1} (${chunk.path}): ${chunk.error}`).join('; ');
    await startCallback(input, state, 'failed');
    throw jobFailed(`${failed.length} of ${total} chunks failed: ${state.failureReason}`, state);
  }
  state.transcription = stitchTranscript(state.chunks.map((chunk) => chunk.transcript ?? ''));
  jobsEnded.add(1, { outcome: 'completed' });
  await startCallback(input, state, 'completed');
  return state;
}

/**
 * Starts the delivery of the job's result to its callback URL, if it has one, as a workflow of its own that
 * outlives this one: the job ends now, and the delivery retries for as long as its policy allows.
 */
async function startCallback(input: TranscriptionJobInput, state: TranscriptionJobState, jobStatus: JobStatus) {
  if (!input.callback) return;
  const { workflowId, startTime } = workflowInfo();
  const deliveryId = `${workflowId}-callback`;
  const result: TranscriptResult = {
    jobId: workflowId,
    userId: state.userId,
    jobStatus,
    chunks: state.chunks,
    createdTime: startTime.toISOString(),
    completedTime: state.completedTime,
    transcription: state.transcription,
    failureReason: state.failureReason,
  };
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
