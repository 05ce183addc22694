import { initialChunkStates, type ChunkState, type TranscriptResult } from '../../workflows/contract';

/** A job as `GET /transcript/{jobId}` answers it, with chunk states overridden one by one (for CLI unit tests). */
export function jobWith(chunks: Partial<ChunkState>[], job: Partial<TranscriptResult> = {}): TranscriptResult {
  return {
    jobId: 'job-01test',
    userId: 'alice',
    jobStatus: 'in_progress',
    chunks: initialChunkStates(chunks.map((_, index) => `talk/part-${index + 1}.wav`)).map((chunk, index) => ({
      ...chunk,
      ...chunks[index],
    })),
    createdTime: '2026-11-24T09:39:47.892Z',
    completedTime: null,
    transcription: null,
    failureReason: null,
    retriedFrom: null,
    ...job,
  };
}
