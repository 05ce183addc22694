import { ServiceStack, pollUntil } from '../support/service-stack';

const FLEET_LIMIT = 4;
const CHUNKS = 16;

/**
 * The model must never see more than ASR_MAX_CONCURRENT_CALLS calls at once, however many workers there are: each
 * takes an equal share, and chunks taken eagerly from a workflow task wait for a free share like any other.
 */
describe('the fleet-wide ASR limit, on two real workers', () => {
  let stack: ServiceStack;

  beforeAll(async () => {
    // Info logs: each worker says when it has counted the other, which is when the limit is the fleet's.
    stack = await ServiceStack.start({ env: { ASR_MAX_CONCURRENT_CALLS: String(FLEET_LIMIT), LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when a burst of chunks arrives at two workers, then the ASR never has more calls at once than the limit', async () => {
    const workers = [await stack.startWorker(), await stack.startWorker()];
    // Each worker logs when its share changes; both must have counted the other before the burst.
    await pollUntil(
      async () => workers.map((worker) => stack.workerOutput(worker)),
      (outputs) => outputs.every((output) => /"workers":2,[^\n]*ASR share changed/.test(output)),
      60_000,
    );

    const paths: string[] = [];
    for (let chunk = 0; chunk < CHUNKS; chunk += 1) {
      const path = await stack.writeChunk(`fleet/chunk-${chunk}.wav`, { transcript: `words ${chunk}` });
      stack.simulator.script(path, [{ status: 200, body: { text: `words ${chunk}` }, delayMs: 400 }]);
      paths.push(path);
    }
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, stack.simulator.inFlight());
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const jobIds = await Promise.all([
      stack.submit('alice', paths.slice(0, CHUNKS / 2)),
      stack.submit('bob', paths.slice(CHUNKS / 2)),
    ]);
    const jobs = await Promise.all(jobIds.map((jobId) => stack.waitForJob(jobId)));
    sampling = false;
    await sampler;

    expect(jobs.map((job) => job.jobStatus)).toEqual(['completed', 'completed']);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(FLEET_LIMIT);
    await pollUntil(
      async () => stack.simulator.inFlight(),
      (inFlight) => inFlight === 0,
      5000,
    );
  });
});
