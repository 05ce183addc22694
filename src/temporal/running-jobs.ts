import type { Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { USER_ID_SEARCH_ATTRIBUTE, WORKFLOW_TYPE } from '../../workflows/contract';

const ALL_JOBS = `WorkflowType = '${WORKFLOW_TYPE}'`;
const RUNNING_JOBS = `${ALL_JOBS} AND ExecutionStatus = 'Running'`;

/** Every running job and its owner: what admission counts and the upload sweep spares. */
export function runningJobOwners(client: Client): AsyncGenerator<{ jobId: string; userId?: string }> {
  return jobOwners(client, RUNNING_JOBS);
}

/** Every job Temporal still holds, running or ended, as far back as its retention: for the backfill. */
export function allJobOwners(client: Client): AsyncGenerator<{ jobId: string; userId?: string }> {
  return jobOwners(client, ALL_JOBS);
}

/**
 * The jobs a visibility query lists and their owners, reading only the search attributes. The SDK's own listing
 * decodes each execution's memo through the codec, which refuses a payload it did not encrypt: one workflow started
 * through Temporal's port with a plain memo would make every listing throw, and with it admission, the upload
 * sweep and the backfill. Search attributes never pass through the codec.
 */
async function* jobOwners(client: Client, query: string): AsyncGenerator<{ jobId: string; userId?: string }> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: 1000,
      nextPageToken,
    });
    for (const execution of page.executions) {
      const jobId = execution.execution?.workflowId;
      if (!jobId) continue;
      const userId = decodeTypedSearchAttributes(execution.searchAttributes?.indexedFields).get(
        USER_ID_SEARCH_ATTRIBUTE,
      );
      yield userId === undefined ? { jobId } : { jobId, userId };
    }
    nextPageToken = page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
}
