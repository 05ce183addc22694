import type { ChunkState, TranscriptResult } from '../../workflows/contract';
import { JobNotFoundError, type TranscriptionJobs } from './transcription-jobs';

/** Why a job recorded as running has no workflow any more (deleted before it ended). */
const LOST_WORKFLOW = "the job's workflow no longer exists; it cannot finish";

/**
 * A job its record calls running, as Temporal's server holds it now (never a worker's query), with what only the
 * record knows: for a job whose workflow closed without recording its end (terminated, timed out) or no longer
 * exists, how it ended, keeping every chunk the worker recorded as transcribed. Still `in_progress` if it runs.
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
  const chunks = seen.jobStatus === 'in_progress' ? seen.chunks : keepRecordedTranscripts(seen.chunks, record);
  return { ...seen, chunks, createdTime: record.createdTime, retriedFrom: record.retriedFrom };
}

/**
 * A chunk's transcript the worker recorded, though its workflow closed before Temporal heard of it (the worker
 * records an attempt's outcome just before it reports it): the ASR did transcribe it, so the chunk stays completed.
 */
function keepRecordedTranscripts(chunks: readonly ChunkState[], record: TranscriptResult): ChunkState[] {
  return chunks.map((chunk, index) => {
    const recorded = record.chunks[index];
    return recorded?.status === 'completed' && chunk.status !== 'completed' ? recorded : chunk;
  });
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
