import type { ChunkState, TranscriptResult } from '../../workflows/contract';

export type { TranscriptResult };

/** What the server says of a chunk's activity that has not finished: the attempt it is on and the last error. */
export interface PendingChunkActivity {
  index: number;
  started: boolean;
  attempt: number;
  lastFailure: string | null;
}

/**
 * Adds the server's view of unfinished chunks to the workflow's: the workflow sees an activity only when it ends,
 * while retries happen on the server. A chunk being attempted, or waiting for its next attempt, is `in_progress`;
 * `attempts` counts the attempts started so far.
 */
export function withPendingActivities(chunks: ChunkState[], pending: PendingChunkActivity[]): ChunkState[] {
  const byIndex = new Map(pending.map((activity) => [activity.index, activity]));
  return chunks.map((chunk) => {
    const activity = byIndex.get(chunk.index);
    if (!activity || chunk.status === 'completed' || chunk.status === 'failed') return chunk;
    const retrying = activity.attempt > 1;
    return {
      ...chunk,
      status: activity.started || retrying ? 'in_progress' : 'pending',
      attempts: activity.started ? activity.attempt : activity.attempt - 1,
      error: activity.lastFailure ?? chunk.error,
    };
  });
}
