import { initialChunkStates, type ChunkState } from '../../workflows/contract';
import { progressDetails } from '../../workflows/progress-details';

function chunks(...states: Partial<ChunkState>[]): ChunkState[] {
  return initialChunkStates(states.map((_, index) => `c${index}.wav`)).map((chunk, index) => ({
    ...chunk,
    ...states[index],
  }));
}

describe('progressDetails (the current details an operator reads in the Web UI)', () => {
  it('when nothing has finished, then it reads 0 of the total', () => {
    expect(progressDetails(chunks({}, {}, {}))).toBe('0/3 chunks done');
  });

  it('when a chunk is retrying, then it is named from 1 with its last error, and failed chunks are counted', () => {
    const details = progressDetails(
      chunks(
        { status: 'completed' },
        { status: 'failed', error: 'ASR answered 400' },
        { status: 'in_progress' },
        { status: 'in_progress', attempts: 1, error: 'ASR answered 503' },
      ),
    );
    expect(details).toBe('1/4 chunks done, chunk 4 retrying: ASR answered 503, 1 failed');
  });

  it('when many chunks are retrying, then three are named and the rest counted, so the line stays short', () => {
    const retrying = { status: 'in_progress', error: 'ASR unreachable: ECONNREFUSED' } as const;
    const details = progressDetails(chunks(retrying, retrying, retrying, retrying, retrying));
    expect(details).toMatch(/^0\/5 chunks done, chunk 1 retrying: .*, chunk 3 retrying: [^,]*, 2 more retrying$/);
  });
});
