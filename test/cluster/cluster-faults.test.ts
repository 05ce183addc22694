/**
 * Faults on the real cluster while the service has dozens of jobs in flight: a history process SIGKILLed, matching
 * SIGKILLed and restarted, PostgreSQL restarted, every Temporal process restarted in turn, the frontend down. Every
 * job must complete with its transcript, once, and the API must answer within 15 s throughout (a 503 with
 * Retry-After while it cannot), its /healthz naming what is down.
 */
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type Cluster } from '../../src/cluster/cluster';
import { ClusterStack } from '../support/cluster-stack';
import { PROJECT_ROOT, pollUntil } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

jest.setTimeout(600_000);

const JOBS = 24;
const CHUNKS_PER_JOB = 2;
/** The promise of the service: an answer, even a 503, within 15 s. */
const ANSWER_WITHIN_MS = 15_000;

interface Answer {
  route: string;
  status: number;
  ms: number;
  retryAfter: string | null;
}

describe('the cluster under faults, with the service under load', () => {
  let dir: string;
  let cluster: Cluster;
  let stack: ClusterStack;
  let round = 0;

  beforeAll(async () => {
    dir = await tempDir('cluster-faults');
    await chmod(dir, 0o711);
    cluster = await startCluster({
      dir: path.join(dir, 'cluster'),
      toolsDir: path.join(PROJECT_ROOT, '.tools'),
      port: 0,
      namespace: 'default',
      retentionDays: 7,
      startupTimeoutMs: 120_000,
    });
    // ASR calls of 2-4 s keep every job's chunks in flight while the fault happens.
    stack = await ClusterStack.start({
      temporalAddress: cluster.address,
      asrLatency: { minMs: 2000, maxMs: 4000 },
      // All the jobs, and the test's polling of them, are alice's: her quotas must not be what answers.
      env: { MAX_JOBS_IN_FLIGHT_PER_USER: String(JOBS * 2), RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '2000' },
    });
    await stack.startWorker();
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Polls the API (a running job and /healthz) every 250 ms until stopped; every answer with its time. */
  function probe(jobId: string) {
    const answers: Answer[] = [];
    let stopped = false;
    const ask = async (route: string) => {
      const started = Date.now();
      const response = await fetch(`${stack.apiUrl}${route}`, {
        headers: route === '/healthz' ? {} : { authorization: `Bearer ${stack.env.API_KEYS!.split(':')[0]}` },
        signal: AbortSignal.timeout(30_000),
      });
      await response.text();
      answers.push({
        route,
        status: response.status,
        ms: Date.now() - started,
        retryAfter: response.headers.get('retry-after'),
      });
    };
    // Each route on its own loop: a read that waits out its answer budget while Temporal is down must not keep
    // /healthz from being asked through the outage.
    const loop = async (route: string) => {
      while (!stopped) {
        await ask(route);
        await sleep(250);
      }
    };
    const running = Promise.all([loop('/healthz'), loop(`/transcript/${jobId}`)]);
    return {
      answers,
      stop: async () => {
        stopped = true;
        await running;
        return answers;
      },
    };
  }

  /**
   * Submits dozens of jobs over unique files, applies the fault while their chunks are at the ASR, then checks that
   * every job completed with its own transcript, that no chunk was transcribed twice, and how the API answered.
   */
  async function underLoad(
    fault: () => Promise<void>,
    options: { resentChunks?: (files: string[]) => void } = {},
  ): Promise<Answer[]> {
    round += 1;
    const jobs: { files: string[]; expected: string }[] = [];
    for (let job = 0; job < JOBS; job += 1) {
      const files: string[] = [];
      for (let chunk = 0; chunk < CHUNKS_PER_JOB; chunk += 1) {
        files.push(
          await stack.writeChunk(`round-${round}/job-${job}/chunk-${chunk}.wav`, {
            transcript: `r${round} j${job} c${chunk}`,
          }),
        );
      }
      jobs.push({ files, expected: files.map((_, chunk) => `r${round} j${job} c${chunk}`).join(' ') });
    }
    const jobIds = await Promise.all(jobs.map((job) => stack.submit(job.files)));
    const prober = probe(jobIds[0]!);
    await pollUntil(
      async () => stack.simulator.inFlight(),
      (inFlight) => inFlight > JOBS,
      30_000,
    );
    await fault();
    const finished = await Promise.all(jobIds.map((jobId) => stack.waitForJob(jobId, 240_000)));
    const answers = await prober.stop();

    expect(finished.map((job) => job.jobStatus)).toEqual(jobIds.map(() => 'completed'));
    expect(finished.map((job) => job.transcription)).toEqual(jobs.map((job) => job.expected));
    const sentTwice = jobs.flatMap((job) => job.files).filter((file) => stack.simulator.requestCount(file) > 1);
    if (options.resentChunks) options.resentChunks(sentTwice);
    else expect(sentTwice).toEqual([]);
    const late = answers.filter((answer) => answer.ms > ANSWER_WITHIN_MS);
    expect(late).toEqual([]);
    const refusedWithoutRetryAfter = answers.filter((answer) => answer.status === 503 && answer.retryAfter === null);
    expect(refusedWithoutRetryAfter).toEqual([]);
    expect(answers.filter((answer) => ![200, 503].includes(answer.status))).toEqual([]);
    return answers;
  }

  it('when one history process is SIGKILLed, then its shards move to the other and every job completes, once', async () => {
    await underLoad(() => cluster.process('history-2').kill());
    await cluster.process('history-2').start();
  });

  it('when matching is SIGKILLed and restarted, then every job completes, once', async () => {
    await underLoad(async () => {
      await cluster.process('matching-1').kill();
      await sleep(2000);
      await cluster.process('matching-1').start();
    });
  });

  it('when PostgreSQL restarts fast, then every job completes, once', async () => {
    await underLoad(() => cluster.restartPostgres());
  });

  it('when every Temporal process is restarted, one at a time, then every job completes, once', async () => {
    await underLoad(async () => {
      for (const process of cluster.processes) await process.restart();
    });
  });

  it('when the frontend is down, then /healthz says Temporal is down, within 15 s, and the API and worker come back with it', async () => {
    let resent: string[] = [];
    const answers = await underLoad(
      async () => {
        const frontend = cluster.process('frontend-1');
        await frontend.kill();
        const down = await pollUntil(
          () =>
            fetch(`${stack.apiUrl}/healthz`).then(async (reply) => ({
              status: reply.status,
              body: (await reply.json()) as { error: { details: unknown } },
            })),
          (reply) => reply.status === 503,
          20_000,
        );
        expect(down.body.error.details).toEqual({ temporal: 'down', jobsDatabase: 'ok' });
        await sleep(3000);
        await frontend.start();
      },
      // An ASR call that ends while no frontend can take its result is lost with the attempt, and retried once the
      // heartbeat times out: chunks are transcribed at least once, not exactly once, across a frontend outage.
      { resentChunks: (files) => (resent = files) },
    );
    expect(answers.some((answer) => answer.status === 503)).toBe(true);
    // At least once, and no more than the one retry the outage explains.
    expect(resent.map((file) => stack.simulator.requestCount(file)).filter((count) => count > 2)).toEqual([]);
  });
});
