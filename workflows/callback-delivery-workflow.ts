import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { CALLBACK_REJECTED_ERROR, type CallbackDeliveryInput } from './contract';
import { temporalRetryPolicy } from './retry-policy';

type Activities = ReturnType<typeof createActivities>;

/**
 * Delivers one job's callback, at least once: its own workflow, started by the job as it ends and left running
 * after it, so a slow or failing receiver never holds the job itself `in_progress`. Retries, with backoff, are
 * the activity's retry policy; a refused URL or a 4xx ends them.
 */
export async function CallbackDeliveryWorkflow({ delivery, settings }: CallbackDeliveryInput): Promise<void> {
  const { deliverCallback } = proxyActivities<Activities>({
    taskQueue: settings.taskQueue,
    startToCloseTimeout: settings.timeoutMs + 5_000,
    retry: temporalRetryPolicy(settings.retry, [CALLBACK_REJECTED_ERROR]),
  });
  await deliverCallback(delivery);
}
