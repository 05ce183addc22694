import type { TranscriptResult } from '../../workflows/contract';
import { JobNotFoundError, type TranscriptionJobs } from '../jobs/transcription-jobs';
import type { JobsDatabase } from './jobs-database';

export interface BackfillProgress {
  total: number;
  checked: number;
  imported: number;
}

const BATCH = 100;

/**
 * Imports into the jobs database every job Temporal still holds that it has no record of: jobs that ran before
 * the database existed. Finished jobs are recorded as they ended, running ones as they stand (their workflow
 * records their end). Idempotent: a job already recorded is left alone, so it can run again, or be interrupted.
 */
export async function backfillJobRecords(
  jobs: Pick<TranscriptionJobs, 'allJobIds' | 'countJobs' | 'get'>,
  records: Pick<JobsDatabase, 'existing' | 'recordStarted' | 'recordEnded'>,
  onProgress: (progress: BackfillProgress) => void,
): Promise<BackfillProgress> {
  const progress: BackfillProgress = { total: await jobs.countJobs(), checked: 0, imported: 0 };
  onProgress(progress);
  let batch: string[] = [];
  const importBatch = async () => {
    const known = await records.existing(batch);
    for (const jobId of batch.filter((id) => !known.has(id))) {
      const job = await jobs.get(jobId).catch(deletedMeanwhile);
      if (job) {
        await record(records, job);
        progress.imported += 1;
      }
    }
    progress.checked += batch.length;
    progress.total = Math.max(progress.total, progress.checked);
    batch = [];
    onProgress(progress);
  };
  for await (const jobId of jobs.allJobIds()) {
    batch.push(jobId);
    if (batch.length === BATCH) await importBatch();
  }
  if (batch.length > 0) await importBatch();
  return progress;
}

async function record(records: Pick<JobsDatabase, 'recordStarted' | 'recordEnded'>, job: TranscriptResult) {
  if (job.jobStatus === 'in_progress') await records.recordStarted(job);
  else await records.recordEnded(job);
}

function deletedMeanwhile(err: unknown): undefined {
  if (err instanceof JobNotFoundError) return undefined;
  throw err;
}
