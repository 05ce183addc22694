import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { USER_ID_SEARCH_ATTRIBUTE, WORKFLOW_TYPE } from '../../workflows/contract';
import type { AdmissionSignals } from '../jobs/job-admission';

/**
 * What admission weighs, read from Temporal: running jobs per user from visibility (a moment behind the
 * executions), and the chunks waiting on the task queue for a worker.
 */
export class TemporalAdmissionSignals implements AdmissionSignals {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async jobsInFlightByUser(): Promise<Map<string, ReadonlySet<string>>> {
    const jobs = new Map<string, Set<string>>();
    const running = this.client.workflow.list({
      query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`,
      pageSize: 1000,
    });
    for await (const execution of running) {
      const userId = execution.typedSearchAttributes.get(USER_ID_SEARCH_ATTRIBUTE);
      if (userId === undefined) continue;
      const ids = jobs.get(userId) ?? new Set<string>();
      ids.add(execution.workflowId);
      jobs.set(userId, ids);
    }
    return jobs;
  }

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
