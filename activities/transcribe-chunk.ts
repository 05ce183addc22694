import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import type { AsrCallSlots } from '../src/asr/asr-call-slots';
import type { Transcriber } from '../src/asr/asr-client';
import { AsrUnavailableError } from '../src/asr/asr-errors';
import type { JobsDatabase } from '../src/jobs-database/jobs-database';
import type { AudioStore, ChunkAudio } from '../src/storage/audio-store';
import {
  NON_RETRYABLE_CHUNK_ERRORS,
  chunkAttemptFailedSignal,
  type ChunkAttemptFailure,
  type ChunkFailureDetails,
  type ChunkState,
  type TranscribeChunkInput,
  type TranscribeChunkResult,
} from '../workflows/contract';

/**
 * When beats come, as a fraction of the heartbeat timeout: late enough that a typical call ends first, early enough
 * that a beat slowed by a busy machine (heartbeats took 0.4 s on average under the 1000-chunk burst) still lands in
 * time. The SDK sends at most one beat per 0.8 of the timeout, so later beats in a long call come at that pace.
 */
const HEARTBEAT_AT = 0.6;

export interface TranscribeChunkDependencies {
  asr: Transcriber;
  audio: AudioStore;
  /** Where each attempt's outcome is recorded, so a search shows a running job's progress without Temporal. */
  records: Pick<JobsDatabase, 'recordChunk' | 'recordAttemptStarted'>;
  /** This worker's share of the fleet's ASR limit: each call waits here until the worker is under it. */
  asrCalls: Pick<AsrCallSlots, 'beginCall'>;
}

/**
 * Builds the `transcribeChunk` activity: opens one chunk's file in its owner's audio space, checks it, and streams
 * that very version to the ASR.
 * It heartbeats while the ASR works, so a worker that dies mid-call has its chunk retried after the heartbeat
 * timeout, and it aborts the ASR call when the job is cancelled (a cancellation reaches an activity only in a
 * heartbeat's answer). Each heartbeat is a write to the job's mutable state on the server, so the first comes only
 * {@link HEARTBEAT_AT} of the timeout into the call: with the default 20 s timeout, a 5-10 s call sends none.
 * Retries are Temporal's: a failure leaves here typed, and the workflow's retry policy decides by type.
 */
export function createTranscribeChunk({ asr, audio, records, asrCalls }: TranscribeChunkDependencies) {
  let metrics: AsrMetrics | undefined;
  return async function transcribeChunk(input: TranscribeChunkInput): Promise<TranscribeChunkResult> {
    const context = Context.current();
    const { attempt, heartbeatTimeoutMs } = context.info;
    // Made once, not per attempt: their tags (namespace, task queue, activity type) are the same for every call.
    metrics ??= asrMetrics(context.metricMeter);
    const { callSeconds, attempts } = metrics;
    const started = performance.now();
    const record = (outcome: string) => {
      callSeconds.record((performance.now() - started) / 1000, { outcome });
      attempts.add(1, { outcome });
    };
    const beat = setInterval(() => context.heartbeat(), Math.max(200, (heartbeatTimeoutMs ?? 20_000) * HEARTBEAT_AT));
    let chunkAudio: ChunkAudio | undefined;
    try {
      await recordStart(records, input, attempt);
      chunkAudio = await audio.open(input.userId, input.path);
      const endCall = await asrCalls.beginCall(context.cancellationSignal);
      const { text, segments, durationSeconds } = await asr
        .transcribe(chunkAudio, { signal: context.cancellationSignal })
        .finally(endCall);
      log.info('chunk transcribed', { jobId: input.jobId, chunk: input.index, attempt, bytes: chunkAudio.size });
      record('ok');
      // The ASR measured what it decoded; the probe's figure from the headers stands in when it says nothing.
      const result = {
        transcript: text,
        segments,
        durationSeconds: durationSeconds ?? chunkAudio.audio.durationSeconds,
        attempt,
      };
      await recordOutcome(records, input, { status: 'completed', attempts: attempt, error: null, ...result });
      return result;
    } catch (err) {
      record(err instanceof Error ? err.name : 'Error');
      const failure = chunkFailure(err, input, attempt);
      if (failure instanceof ApplicationFailure) {
        const final = NON_RETRYABLE_CHUNK_ERRORS.includes(failure.type ?? '');
        if (!final) await tellWorkflowOfRetry(context, { index: input.index, attempt, error: failure.message });
        // Whether a retryable failure was the last attempt is the server's to say; the job's end record settles it.
        const status = final ? 'failed' : 'in_progress';
        await recordOutcome(records, input, { status, attempts: attempt, error: failure.message });
      }
      throw failure;
    } finally {
      clearInterval(beat);
      await chunkAudio?.close();
    }
  };
}

/**
 * Writes to a chunk's record. The record of a chunk's progress is a convenience for reads and search: the job's end
 * record is what counts, so a database that does not answer is logged and the attempt goes on.
 */
async function recordBestEffort(input: TranscribeChunkInput, what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    log.warn(`could not record ${what}`, { jobId: input.jobId, chunk: input.index, error: String(err) });
  }
}

/** Records that an attempt has begun, so a read of the job shows the chunk under way from its record alone. */
function recordStart(
  records: Pick<JobsDatabase, 'recordAttemptStarted'>,
  input: TranscribeChunkInput,
  attempt: number,
) {
  return recordBestEffort(input, 'a chunk attempt', () =>
    records.recordAttemptStarted(input.jobId, { index: input.index, path: input.path, attempts: attempt }),
  );
}

/** Records an attempt's outcome. */
function recordOutcome(
  records: Pick<JobsDatabase, 'recordChunk'>,
  input: TranscribeChunkInput,
  outcome: Pick<ChunkState, 'status' | 'attempts' | 'error'> & Partial<TranscribeChunkResult>,
) {
  return recordBestEffort(input, 'chunk progress', () =>
    records.recordChunk(input.jobId, {
      index: input.index,
      path: input.path,
      status: outcome.status,
      attempts: outcome.attempts,
      error: outcome.error,
      transcript: outcome.transcript ?? null,
      durationSeconds: outcome.durationSeconds ?? null,
      segments: outcome.segments ?? null,
    }),
  );
}

type AsrMetrics = ReturnType<typeof asrMetrics>;

function asrMetrics(meter: MetricMeter) {
  return {
    callSeconds: meter.createHistogram(
      'transcription_asr_call_seconds',
      'float',
      's',
      'Time of one ASR attempt, by outcome.',
    ),
    attempts: meter.createCounter(
      'transcription_asr_attempts',
      '',
      'ASR attempts, by outcome (ok or the error class).',
    ),
  };
}

/**
 * Lets the workflow name the retrying chunk in its current details. Only the Web UI's view depends on it, so a
 * failed signal is logged and the retry goes ahead regardless.
 */
async function tellWorkflowOfRetry(context: Context, failure: ChunkAttemptFailure): Promise<void> {
  const execution = context.info.workflowExecution;
  if (!execution) return;
  try {
    await context.client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .signal(chunkAttemptFailedSignal, failure);
  } catch (err) {
    log.warn('could not tell the workflow of a retry', { chunk: failure.index, error: String(err) });
  }
}

function chunkFailure(err: unknown, input: TranscribeChunkInput, attempt: number): unknown {
  if (err instanceof CancelledFailure || Context.current().cancellationSignal.aborted) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  log.warn('chunk attempt failed', { jobId: input.jobId, chunk: input.index, attempt, error: error.message });
  const details: ChunkFailureDetails = { attempt };
  return ApplicationFailure.create({
    type: error.name,
    message: error.message,
    details: [details],
    // A 429's Retry-After replaces the policy's backoff for this one retry; it still counts as an attempt.
    nextRetryDelay: err instanceof AsrUnavailableError ? err.details.retryAfterMs : undefined,
  });
}
