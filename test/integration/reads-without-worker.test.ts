import type { ChildProcess } from 'node:child_process';
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
});
