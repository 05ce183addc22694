import type { TranscriptResult } from '../../workflows/contract';
import { JobNotFoundError, type TranscriptionJobs } from './transcription-jobs';

/** Why a job recorded as running has no workflow any more (deleted before it ended). */
const LOST_WORKFLOW = "the job's workflow no longer exists; it cannot finish";

/**
 * A job its record calls running, as Temporal's server holds it now (never a worker's query): for a job whose
 * workflow closed without recording its end (terminated, timed out) or no longer exists, how it ended; still
 * `in_progress` if it runs. Recording the end keeps every chunk the worker recorded as transcribed.
 */
export async function jobAsTemporalHoldsIt(
  temporal: Pick<TranscriptionJobs, 'get'>,
  record: TranscriptResult,
): Promise<TranscriptResult> {
  let seen: TranscriptResult;
  try {
    seen = await temporal.get(record.jobId, record);
  } catch (err) {
    if (!(err instanceof JobNotFoundError)) throw err;
    return lost(record);
  }
  return { ...seen, createdTime: record.createdTime, retriedFrom: record.retriedFrom };
}

function lost(record: TranscriptResult): TranscriptResult {
  const chunks = record.chunks.map((chunk) =>
    chunk.status === 'completed' ? chunk : { ...chunk, status: 'failed' as const, error: chunk.error ?? LOST_WORKFLOW },
  );
  return {
    ...record,
    chunks,
    jobStatus: 'failed',
    completedTime: new Date().toISOString(),
    failureReason: LOST_WORKFLOW,
  };
}
