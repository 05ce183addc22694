import {
  initialChunkStates,
  type ChunkState,
  type JobStatus,
  type TranscriptionJobInput,
  type TranscriptionJobState,
  type TranscriptResult,
} from './contract';

/** Everything a job's record is made of, from wherever it was read (the workflow itself, its result, its history). */
export interface TranscriptResultParts {
  jobId: string;
  userId: string;
  jobStatus: JobStatus;
  chunks: readonly ChunkState[];
  createdTime: string;
  completedTime: string | null;
  transcription: string | null;
  failureReason: string | null;
  /** Absent where the source does not know it (a running job's query): read as null. */
  retriedFrom?: string | null;
}

/**
 * The one way a job becomes what the API answers and its callback carries. Chunks recorded before chunks had
 * timings read null; only a finished job has a completed time, only a completed one a transcription, only a
 * failed one a failure reason. Workflow-safe: the workflow builds its callback with it too.
 */
export function transcriptResult(parts: TranscriptResultParts): TranscriptResult {
  const { jobStatus } = parts;
  return {
    jobId: parts.jobId,
    userId: parts.userId,
    jobStatus,
    chunks: parts.chunks.map((chunk) => ({
      ...chunk,
      durationSeconds: chunk.durationSeconds ?? null,
      segments: chunk.segments ?? null,
    })),
    createdTime: parts.createdTime,
    completedTime: jobStatus === 'in_progress' ? null : parts.completedTime,
    transcription: jobStatus === 'completed' ? parts.transcription : null,
    failureReason: jobStatus === 'failed' ? parts.failureReason : null,
    retriedFrom: parts.retriedFrom ?? null,
  };
}

/**
 * A job before any chunk is attempted: a retry starts with the chunks its failed job transcribed. The workflow
 * starts from it, and the API records it as the job's first state, so both record the same job.
 */
export function initialJobState(input: Pick<TranscriptionJobInput, 'userId' | 'audioChunkPaths' | 'retryOf'>) {
  const state: TranscriptionJobState = {
    userId: input.userId,
    chunks: initialChunkStates(input.audioChunkPaths),
    transcription: null,
    completedTime: null,
    failureReason: null,
  };
  for (const reused of input.retryOf?.completedChunks ?? []) {
    const chunk = state.chunks[reused.index];
    if (chunk) Object.assign(chunk, reused, { status: 'completed', error: null });
  }
  return state;
}
