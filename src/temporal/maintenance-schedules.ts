import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import {
  EXPIRE_JOB_RECORDS_WORKFLOW_TYPE,
  EXPIRE_UPLOADS_WORKFLOW_TYPE,
  RECONCILE_JOB_RECORDS_WORKFLOW_TYPE,
  type MaintenanceInput,
} from '../../workflows/contract';

export interface MaintenanceScheduleOptions {
  namespace: string;
  /** The workflows' task queue; their activities run on `maintenanceTaskQueue`. */
  taskQueue: string;
  maintenanceTaskQueue: string;
  uploadExpiryEveryMinutes: number;
  reconcileEveryMinutes: number;
  codec: PayloadCodec;
}

/** Schedule ids are per task queue, so services sharing a namespace each look after their own store. */
export const uploadExpiryScheduleId = (taskQueue: string): string => `${taskQueue}-upload-expiry`;
export const jobRecordReconcileScheduleId = (taskQueue: string): string => `${taskQueue}-job-record-reconcile`;
export const jobRecordExpiryScheduleId = (taskQueue: string): string => `${taskQueue}-job-record-expiry`;

const DAY_MINUTES = 24 * 60;

/**
 * Makes sure the service's housekeeping Schedules exist and run as configured: upload expiry, job-record
 * reconciliation and job-record retention. Operators see them, pause them or trigger them in the Web UI's
 * Schedules page. Safe to run from every worker at once.
 */
export async function ensureMaintenanceSchedules(
  connection: Connection,
  options: MaintenanceScheduleOptions,
): Promise<void> {
  const client = new Client({
    connection,
    namespace: options.namespace,
    dataConverter: { payloadCodecs: [options.codec] },
  });
  const schedule = (id: string, workflowType: string, everyMinutes: number, summary: string) =>
    ensureSchedule(client, { id, workflowType, everyMinutes, summary, ...options });
  await schedule(
    uploadExpiryScheduleId(options.taskQueue),
    EXPIRE_UPLOADS_WORKFLOW_TYPE,
    options.uploadExpiryEveryMinutes,
    'Removes uploads past AUDIO_UPLOAD_RETENTION_HOURS',
  );
  await schedule(
    jobRecordReconcileScheduleId(options.taskQueue),
    RECONCILE_JOB_RECORDS_WORKFLOW_TYPE,
    options.reconcileEveryMinutes,
    'Records the end of jobs whose workflow closed without recording it',
  );
  await schedule(
    jobRecordExpiryScheduleId(options.taskQueue),
    EXPIRE_JOB_RECORDS_WORKFLOW_TYPE,
    DAY_MINUTES,
    'Deletes job records past JOB_RECORD_RETENTION_DAYS',
  );
}

/** Created on a first start, updated when its interval or queues changed, left alone otherwise. */
async function ensureSchedule(
  client: Client,
  options: MaintenanceScheduleOptions & { id: string; workflowType: string; everyMinutes: number; summary: string },
): Promise<void> {
  const args: [MaintenanceInput] = [{ activityTaskQueue: options.maintenanceTaskQueue }];
  const every = options.everyMinutes * 60_000;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: options.workflowType,
    taskQueue: options.taskQueue,
    args,
    staticSummary: options.summary,
  };
  try {
    await client.schedule.create({
      scheduleId: options.id,
      spec: { intervals: [{ every }] },
      action,
      // A run that takes long is not started twice; the next one simply comes later.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    const handle = client.schedule.getHandle(options.id);
    const current = await handle.describe();
    const interval = current.spec.intervals?.[0];
    const currentArgs = current.action.type === 'startWorkflow' ? current.action.args : undefined;
    const unchanged =
      current.spec.intervals?.length === 1 &&
      interval !== undefined &&
      Number(interval.every) === every &&
      current.action.type === 'startWorkflow' &&
      current.action.taskQueue === options.taskQueue &&
      JSON.stringify(currentArgs) === JSON.stringify(args);
    if (unchanged) return;
    await handle.update((previous) => ({ ...previous, spec: { intervals: [{ every }] }, action }));
  }
}
