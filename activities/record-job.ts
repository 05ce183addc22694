import type { JobsDatabase } from '../src/jobs-database/jobs-database';
import type { TranscriptResult } from '../workflows/contract';

export interface RecordJobDependencies {
  records: Pick<JobsDatabase, 'recordStarted' | 'recordEnded'>;
}

/**
 * The job's writes to the jobs database, run by its workflow as local activities: its start (which the API has
 * usually written already) and its end. Both are idempotent upserts keyed by the job id.
 */
export function createRecordJob({ records }: RecordJobDependencies) {
  return {
    recordJobStarted: (job: TranscriptResult): Promise<void> => records.recordStarted(job),
    // Returns nothing: the local activity's result goes into the job's history, and the transcript must not.
    recordJobEnded: async (job: TranscriptResult): Promise<void> => {
      await records.recordEnded(job);
    },
  };
}
