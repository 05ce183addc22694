import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AdmissionSignals } from '../jobs/job-admission';
import { runningJobOwners } from './running-jobs';

/**
 * What admission weighs that Temporal knows: running jobs per user from visibility (a moment behind the
 * executions), and the chunks waiting on the task queue for a worker. Each user's chunks come from the jobs database.
 */
export class TemporalAdmissionSignals implements Pick<AdmissionSignals, 'jobsInFlightByUser' | 'chunkBacklog'> {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async jobsInFlightByUser(): Promise<Map<string, ReadonlySet<string>>> {
    const jobs = new Map<string, Set<string>>();
    for await (const { jobId, userId } of runningJobOwners(this.client)) {
      if (userId === undefined) continue;
      const ids = jobs.get(userId) ?? new Set<string>();
      ids.add(jobId);
      jobs.set(userId, ids);
    }
    return jobs;
  }

  // Stats asked of the root partition are gathered from every partition (server 1.32, matching_engine.go), unlike
  // the plain mode's pollers; the server caches them for 5 s (matching.TaskQueueInfoByBuildIdTTL).
  async chunkBacklog(): Promise<number> {
    const response = await this.client.workflowService.describeTaskQueue({
      namespace: this.client.options.namespace,
      taskQueue: { name: this.taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      reportStats: true,
    });
    return Number(response.stats?.approximateBacklogCount ?? 0);
  }
}
