import type { ChunkState, TranscriptResult } from '../../workflows/contract';
import { JobNotFailedError, retryPlan } from '../../src/jobs/retry-plan';

const chunk = (index: number, status: ChunkState['status'], transcript: string | null = null): ChunkState => ({
  index,
  path: `talk/part-${index + 1}.wav`,
  status,
  attempts: status === 'pending' ? 0 : 1,
  error: status === 'failed' ? 'ASR answered 500' : null,
  transcript,
  durationSeconds: transcript === null ? null : 4.5,
  segments: null,
});

const job = (jobStatus: TranscriptResult['jobStatus'], chunks: ChunkState[]): TranscriptResult => ({
  jobId: 'job-1',
  userId: 'alice',
  jobStatus,
  chunks,
  createdTime: '2026-12-01T00:00:00.000Z',
  completedTime: jobStatus === 'in_progress' ? null : '2026-12-01T00:01:00.000Z',
  transcription: null,
  failureReason: jobStatus === 'failed' ? 'chunk 2 failed' : null,
  retriedFrom: null,
});

describe('retryPlan', () => {
  it('when a failed job is retried, then its transcribed chunks are carried over and only the others are checked again', () => {
    // Listed out of order: the plan follows the chunks' own order.
    const plan = retryPlan(
      job('failed', [chunk(2, 'failed'), chunk(0, 'completed', 'one'), chunk(1, 'failed'), chunk(3, 'completed', '')]),
    );
    expect(plan.audioChunkPaths).toEqual(['talk/part-1.wav', 'talk/part-2.wav', 'talk/part-3.wav', 'talk/part-4.wav']);
    expect(plan.completedChunks.map((reused) => [reused.index, reused.transcript])).toEqual([
      [0, 'one'],
      [3, ''],
    ]);
    expect(plan.chunksToCheck).toEqual([
      { index: 1, path: 'talk/part-2.wav' },
      { index: 2, path: 'talk/part-3.wav' },
    ]);
  });

  it('when a completed chunk has no transcript (a job cancelled mid-way), then it is sent again', () => {
    const plan = retryPlan(job('failed', [chunk(0, 'completed', null), chunk(1, 'failed')]));
    expect(plan.completedChunks).toEqual([]);
    expect(plan.chunksToCheck.map((each) => each.index)).toEqual([0, 1]);
  });

  it.each(['completed', 'in_progress'] as const)('when the job is %s, then it cannot be retried', (status) => {
    expect(() => retryPlan(job(status, [chunk(0, 'completed', 'one')]))).toThrow(JobNotFailedError);
  });
});
