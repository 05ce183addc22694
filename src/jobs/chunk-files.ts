import { mapConcurrently } from '../map-concurrently';
import { AudioFileError, type AudioFileProblem, type AudioStore } from '../storage/audio-store';

/** One chunk's file that cannot be used, and why. */
export interface ChunkFileProblem {
  index: number;
  message: string;
  problem: AudioFileProblem;
}

/** A submission names files that cannot be used; every problem is listed, in chunk order. */
export class ChunkFilesRejectedError extends Error {
  constructor(readonly problems: ChunkFileProblem[]) {
    super(`audio rejected: ${problems[0]?.message}`);
    this.name = 'ChunkFilesRejectedError';
  }
}

const CHECK_CONCURRENCY = 8;

/** Checks every file of a submission in the user's audio space, a few at a time, and reports all problems at once. */
export async function checkChunkFiles(
  audio: Pick<AudioStore, 'inspect'>,
  userId: string,
  paths: { index: number; path: string }[],
): Promise<void> {
  const problems = await mapConcurrently(
    paths,
    CHECK_CONCURRENCY,
    async ({ index, path }): Promise<ChunkFileProblem | undefined> => {
      try {
        await audio.inspect(userId, path);
        return undefined;
      } catch (err) {
        if (!(err instanceof AudioFileError)) throw err;
        return { index, message: err.message, problem: err.problem };
      }
    },
  );
  const found = problems.filter((problem): problem is ChunkFileProblem => problem !== undefined);
  if (found.length > 0) throw new ChunkFilesRejectedError(found);
}
