import type { ChunkState } from '../../workflows/contract';
import { withPendingActivities } from '../../src/jobs/transcript-result';

const chunk = (index: number, status: ChunkState['status']): ChunkState => ({
  index,
  path: `c${index}.wav`,
  status,
  attempts: status === 'completed' ? 1 : 0,
  error: null,
  transcript: status === 'completed' ? 'text' : null,
  durationSeconds: status === 'completed' ? 10 : null,
  segments: null,
});

describe('withPendingActivities', () => {
  it("when the server says a chunk's attempt has started, then it is in progress with that attempt counted", () => {
    const [merged] = withPendingActivities(
      [chunk(0, 'pending')],
      [{ index: 0, started: true, attempt: 1, lastFailure: null }],
    );
    expect(merged).toMatchObject({ status: 'in_progress', attempts: 1, error: null });
  });

  it('when a chunk waits for a retry, then it is in progress with the last error and the attempts made', () => {
    const [merged] = withPendingActivities(
      [chunk(0, 'pending')],
      [{ index: 0, started: false, attempt: 3, lastFailure: 'ASR answered 503' }],
    );
    expect(merged).toMatchObject({ status: 'in_progress', attempts: 2, error: 'ASR answered 503' });
  });

  it('when a chunk is scheduled but no worker has taken it, then it stays pending', () => {
    const [merged] = withPendingActivities(
      [chunk(0, 'pending')],
      [{ index: 0, started: false, attempt: 1, lastFailure: null }],
    );
    expect(merged).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('when a chunk has finished, then the server view does not change it', () => {
    const chunks = [chunk(0, 'completed')];
    expect(withPendingActivities(chunks, [{ index: 0, started: true, attempt: 2, lastFailure: 'x' }])).toEqual(chunks);
  });
});
