import type { ReusedChunk, TranscriptResult } from '../../workflows/contract';

/** Only a failed job can be retried. */
export class JobNotFailedError extends Error {
  constructor(
    readonly jobId: string,
    readonly jobStatus: string,
  ) {
    super(`only a failed job can be retried; this one is ${jobStatus}`);
    this.name = 'JobNotFailedError';
  }
}

/** What a retry of a failed job does: the same files in order, its transcribed chunks kept, the rest sent again. */
export interface RetryPlan {
  audioChunkPaths: string[];
  completedChunks: ReusedChunk[];
  /** The chunks whose files are checked again before the retry starts: the ones going to the ASR. */
  chunksToCheck: { index: number; path: string }[];
}

/** Decides which chunks of a failed job a retry carries over: each completed one with a transcript. */
export function retryPlan(failed: TranscriptResult): RetryPlan {
  if (failed.jobStatus !== 'failed') throw new JobNotFailedError(failed.jobId, failed.jobStatus);
  const chunks = [...failed.chunks].sort((a, b) => a.index - b.index);
  const completedChunks = chunks.flatMap((chunk): ReusedChunk[] =>
    chunk.status === 'completed' && chunk.transcript !== null
      ? [
          {
            index: chunk.index,
            transcript: chunk.transcript,
            segments: chunk.segments,
            durationSeconds: chunk.durationSeconds,
            attempts: chunk.attempts,
          },
        ]
      : [],
  );
  const reused = new Set(completedChunks.map((chunk) => chunk.index));
  return {
    audioChunkPaths: chunks.map((chunk) => chunk.path),
    completedChunks,
    chunksToCheck: chunks
      .filter((chunk) => !reused.has(chunk.index))
      .map((chunk) => ({ index: chunk.index, path: chunk.path })),
  };
}
