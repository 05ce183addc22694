import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { MaintenanceInput, ExpireUploadsResult } from './contract';

type Activities = ReturnType<typeof createActivities>;

/**
 * Removes uploads past their retention: started by the `…-upload-expiry` Temporal Schedule, so operators see
 * every sweep, and what it removed, in the Web UI. The sweep is one activity, retried a few times; the next
 * scheduled run picks up whatever a failed one left.
 */
export async function ExpireUploadsWorkflow({ activityTaskQueue }: MaintenanceInput): Promise<ExpireUploadsResult> {
  const { expireUploads } = proxyActivities<Activities>({
    taskQueue: activityTaskQueue,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3, initialInterval: '10 seconds', backoffCoefficient: 2 },
  });
  return expireUploads();
}
