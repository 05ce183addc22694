import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { JobsDatabase } from '../src/jobs-database/jobs-database';
import { jobAsTemporalHoldsIt } from '../src/jobs/closed-jobs';
import type { TranscriptionJobs } from '../src/jobs/transcription-jobs';
import type { ReconcileJobRecordsResult } from '../workflows/contract';

export interface MaintainJobRecordsDependencies {
  records: Pick<JobsDatabase, 'unfinishedCreatedBefore' | 'get' | 'recordEnded' | 'deleteCreatedBefore'>;
  /** Temporal's view of jobs, over the activity's own client. */
  temporalJobs: (client: Client) => Pick<TranscriptionJobs, 'get' | 'closedAmong'>;
  recordRetentionDays: number;
}

const BATCH = 200;
const DAY_MS = 86_400_000;

/**
 * The jobs database's housekeeping, run by Temporal Schedules on the maintenance queue: `reconcileJobRecords`
 * records the end of jobs whose workflow closed without writing it (terminated, timed out, reset, or its worker
 * killed for good), and `expireJobRecords` deletes records past JOB_RECORD_RETENTION_DAYS.
 */
export function createMaintainJobRecords({
  records,
  temporalJobs,
  recordRetentionDays,
}: MaintainJobRecordsDependencies) {
  return {
    reconcileJobRecords: async (): Promise<ReconcileJobRecordsResult> => {
      const context = Context.current();
      const jobs = temporalJobs(context.client);
      const result: ReconcileJobRecordsResult = { checked: 0, repaired: 0 };
      const unfinished = await records.unfinishedCreatedBefore(Date.now(), BATCH);
      result.checked = unfinished.length;
      const closed = await jobs.closedAmong(unfinished);
      for (const jobId of unfinished) {
        context.heartbeat();
        if (!closed.has(jobId)) continue;
        const record = await records.get(jobId);
        if (record?.jobStatus !== 'in_progress') continue;
        const ended = await jobAsTemporalHoldsIt(jobs, record);
        if (ended.jobStatus === 'in_progress') continue;
        await records.recordEnded(ended);
        result.repaired += 1;
      }
      if (result.repaired > 0) log.info('job records reconciled', { ...result });
      return result;
    },

    expireJobRecords: async (): Promise<{ deleted: number }> => {
      const context = Context.current();
      const cutoff = Date.now() - recordRetentionDays * DAY_MS;
      let deleted = 0;
      for (;;) {
        const batch = await records.deleteCreatedBefore(cutoff, 1000);
        deleted += batch;
        context.heartbeat(deleted);
        if (batch === 0) break;
      }
      log.info('expired job records deleted', { deleted });
      return { deleted };
    },
  };
}
