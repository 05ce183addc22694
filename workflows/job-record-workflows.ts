import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { MaintenanceInput, ReconcileJobRecordsResult } from './contract';

type Activities = ReturnType<typeof createActivities>;

const maintenance = (activityTaskQueue: string) =>
  proxyActivities<Activities>({
    taskQueue: activityTaskQueue,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3, initialInterval: '10 seconds', backoffCoefficient: 2 },
  });

/**
 * Records the end of jobs whose workflow closed without recording it (terminated, timed out, reset): started by
 * the `…-job-record-reconcile` Schedule. A run that fails is picked up by the next one.
 */
export async function ReconcileJobRecordsWorkflow({
  activityTaskQueue,
}: MaintenanceInput): Promise<ReconcileJobRecordsResult> {
  return maintenance(activityTaskQueue).reconcileJobRecords();
}

/** Deletes job records past JOB_RECORD_RETENTION_DAYS: started daily by the `…-job-record-expiry` Schedule. */
export async function ExpireJobRecordsWorkflow({ activityTaskQueue }: MaintenanceInput): Promise<{ deleted: number }> {
  return maintenance(activityTaskQueue).expireJobRecords();
}
