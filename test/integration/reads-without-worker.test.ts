import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { temporal } from '@temporalio/proto';
import { ServiceStack } from '../support/service-stack';

/**
 * A running job is read from its record and Temporal's server, never from a worker: a read must not wait behind a
 * busy job's workflow task, or on a worker that has stopped answering. The workflow's query would wait here for
 * API_QUERY_TIMEOUT_MS (a minute), far past the API's 13 s answer budget, so a read that asked a worker would be a 503.
 */
describe('reading running jobs while the worker answers nothing', () => {
  let stack: ServiceStack;
  let worker: ChildProcess;

  beforeAll(async () => {
    stack = await ServiceStack.start({
      env: { API_QUERY_TIMEOUT_MS: '60000', CHUNK_HEARTBEAT_TIMEOUT_MS: '60000', WORKER_SHUTDOWN_GRACE_MS: '1000' },
    });
    await stack.writeChunk('frozen/part-1.wav', { transcript: 'first words' });
    await stack.writeChunk('frozen/part-2.wav');
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    if (worker?.exitCode === null) worker.kill('SIGCONT');
    await stack?.stop();
  });

  it("when the worker is frozen mid-job, then the job's reads and searches answer at once with each chunk's progress", async () => {
    stack.simulator.script('frozen/part-2.wav', [{ status: 200, body: { text: 'second words' }, delayMs: 120_000 }]);
    const jobId = await stack.submit('alice', ['frozen/part-1.wav', 'frozen/part-2.wav']);
    await stack.waitForJob(jobId, (job) => job.chunks[0].status === 'completed' && stack.simulator.inFlight() === 1);

    // SIGSTOP: the process and its connections stay up, but nothing in it runs, so nothing answers a query.
    worker.kill('SIGSTOP');
    for (let read = 0; read < 3; read += 1) {
      const job = await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('alice'));
      expect(job.status).toBe(200);
      expect(job.json).toMatchObject({ jobStatus: 'in_progress', userId: 'alice', transcription: null });
      expect(
        job.json.chunks.map((chunk: { status: string; transcript: string | null }) => [chunk.status, chunk.transcript]),
      ).toEqual([
        ['completed', 'first words'],
        ['in_progress', null],
      ]);
    }
    const running = await stack.request(
      'GET',
      '/transcript/search?jobStatus=in_progress',
      undefined,
      stack.auth('alice'),
    );
    expect(running.status).toBe(200);
    expect(running.json.results.map((job: { jobId: string }) => job.jobId)).toEqual([jobId]);

    worker.kill('SIGCONT');
    const cancelled = await stack.request('DELETE', `/transcript/${jobId}`, undefined, stack.auth('alice'));
    expect(cancelled.status).toBe(202);
  });

  it('when an operator resets a running job, then reads follow it into its new run instead of calling it failed', async () => {
    await stack.writeChunk('reset/part-1.wav', { transcript: 'kept words' });
    await stack.writeChunk('reset/part-2.wav');
    stack.simulator.script('reset/part-2.wav', [{ status: 200, body: { text: 'later words' }, delayMs: 120_000 }]);
    const jobId = await stack.submit('bob', ['reset/part-1.wav', 'reset/part-2.wav']);
    // Read while it runs, so the API knows the run it is reset from.
    await stack.waitForJob(jobId, (job) => job.chunks[0].status === 'completed');

    // Raw calls: the stack's plain client cannot decode the job's encrypted memo, and a reset needs none of it.
    const described = await stack.temporal.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId: jobId },
    });
    const runId = described.workflowExecutionInfo?.execution?.runId ?? undefined;
    const firstTask = (await stack.temporal.workflow.getHandle(jobId, runId).fetchHistory()).events?.find(
      (event) => event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    );
    await stack.temporal.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: jobId, runId },
      workflowTaskFinishEventId: firstTask?.eventId,
      requestId: randomUUID(),
      reason: 'operator reset in a test',
    });

    const job = await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('bob'));
    expect(job.status).toBe(200);
    expect(job.json.jobStatus).toBe('in_progress');
    const running = await stack.request(
      'GET',
      '/transcript/search?jobStatus=in_progress',
      undefined,
      stack.auth('bob'),
    );
    expect(running.json.results.map((each: { jobId: string }) => each.jobId)).toEqual([jobId]);
    await stack.request('DELETE', `/transcript/${jobId}`, undefined, stack.auth('bob'));
  });
});
