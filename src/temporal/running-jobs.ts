import type { Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { USER_ID_SEARCH_ATTRIBUTE, WORKFLOW_TYPE } from '../../workflows/contract';

const RUNNING_JOBS = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

/**
 * Every running job and its owner, from visibility, reading only the search attributes. The SDK's own listing
 * decodes each execution's memo through the codec, which refuses a payload it did not encrypt: one workflow started
 * through Temporal's port with a plain memo would make every listing throw, and with it admission and the upload
 * sweep. Search attributes never pass through the codec.
 */
export async function* runningJobOwners(client: Client): AsyncGenerator<{ jobId: string; userId?: string }> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: RUNNING_JOBS,
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
