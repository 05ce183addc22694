import { temporal } from '@temporalio/proto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { AesGcmPayloadCodec } from '../../src/codec/aes-gcm-payload-codec';
import type { JobsDatabase } from '../../src/jobs-database/jobs-database';
import { openJobsDatabase, type JobsDatabaseSettings } from '../../src/jobs-database/open-jobs-database';
import { startPostgres, type PostgresServer } from '../../src/process/postgres-server';
import { jobRecordReconcileScheduleId } from '../../src/temporal/maintenance-schedules';
import type { TranscriptResult } from '../../workflows/contract';
import { startTestPostgres, type TestPostgres } from '../support/postgres-server';
import { PROJECT_ROOT, ServiceStack, pollUntil } from '../support/service-stack';

jest.setTimeout(300_000);

const RUNNING = temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
const TEMPORAL_CLI = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');
const run = promisify(execFile);
const GRPC_NOT_FOUND = 5;

/** How each database is made to stop answering writes for a while, as a real outage would. */
interface Outage {
  begin(): Promise<void>;
  end(): Promise<void>;
}

interface Backend {
  name: string;
  env: () => Record<string, string>;
  outage: (stack: ServiceStack) => Outage;
  cleanup: () => Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  return {
    name: 'SQLite',
    env: () => ({}),
    // Another process holding the file's write lock: every write of the service times out until it lets go.
    outage: (stack) => {
      let locker: DatabaseSync | undefined;
      return {
        begin: async () => {
          locker = new DatabaseSync(path.join(stack.env.DATA_DIR as string, 'jobs.sqlite'));
          locker.exec('BEGIN EXCLUSIVE');
        },
        end: async () => {
          locker?.exec('ROLLBACK');
          locker?.close();
        },
      };
    },
    cleanup: async () => undefined,
  };
}

async function postgresBackend(): Promise<Backend> {
  const server: TestPostgres = await startTestPostgres({ databases: ['transcription_jobs'] });
  let restarted: PostgresServer | undefined;
  return {
    name: 'PostgreSQL',
    env: () => ({ JOBS_DATABASE_URL: server.url('transcription_jobs') }),
    // The server stopped, then started again on the same data and port.
    outage: () => ({
      begin: () => (restarted ?? server).stop(),
      end: async () => {
        restarted = await startPostgres({ dataDir: server.dataDir, port: server.port });
      },
    }),
    cleanup: async () => {
      await restarted?.stop();
      await server.cleanup();
    },
  };
}

describe.each([
  ['SQLite', sqliteBackend],
  ['PostgreSQL', postgresBackend],
])('job records on %s, under faults', (_name, makeBackend) => {
  let backend: Backend;
  let stack: ServiceStack;

  beforeAll(async () => {
    backend = await makeBackend();
    // A 10 s heartbeat timeout: a worker blocked on a locked SQLite file for a second must not lose its chunk.
    stack = await ServiceStack.start({ env: { ...backend.env(), CHUNK_HEARTBEAT_TIMEOUT_MS: '10000' } });
    await stack.startWorker();
    await stack.writeChunk('rec/part-1.wav', { transcript: 'first words' });
    await stack.writeChunk('rec/part-2.wav', { transcript: 'last words' });
  });

  afterAll(async () => {
    await stack?.stop();
    await backend?.cleanup();
  });

  /** The jobs database as the service sees it: its own settings and keys. */
  async function withDatabase<T>(use: (database: JobsDatabase) => Promise<T>): Promise<T> {
    const settings: JobsDatabaseSettings = {
      url: stack.env.JOBS_DATABASE_URL,
      sqliteFile: path.join(stack.env.DATA_DIR as string, 'jobs.sqlite'),
    };
    const codec = new AesGcmPayloadCodec(parseEncryptionKeys(stack.env.PAYLOAD_ENCRYPTION_KEYS as string));
    const { database } = await openJobsDatabase(settings, codec);
    try {
      return await use(database);
    } finally {
      await database.close();
    }
  }

  const recordOf = (jobId: string) => withDatabase((database) => database.get(jobId));

  async function search(user: 'dave' | 'erin', jobStatus: string): Promise<string[]> {
    const reply = await stack.request(
      'GET',
      `/transcript/search?jobStatus=${jobStatus}&limit=100`,
      undefined,
      stack.auth(user),
    );
    expect(reply.status).toBe(200);
    return (reply.json.results as TranscriptResult[]).map((job) => job.jobId);
  }

  /** Deletes a job's workflow from Temporal, running or not, and waits until Temporal no longer knows it. */
  async function deleteWorkflow(jobId: string): Promise<void> {
    const execution = { namespace: 'default', workflowExecution: { workflowId: jobId } };
    await stack.temporal.workflowService.deleteWorkflowExecution(execution);
    // Raw calls: this client has no codec for the job's encrypted memo. A running workflow is terminated first and
    // deleted a moment later; a closed one took about 30 s on the dev server.
    await pollUntil(
      () =>
        stack.temporal.workflowService
          .describeWorkflowExecution({ namespace: 'default', execution: { workflowId: jobId } })
          .then(
            () => 'there',
            (err: { code?: number }) => (err.code === GRPC_NOT_FOUND ? 'gone' : 'there'),
          ),
      (state) => state === 'gone',
    );
  }

  it('when Temporal has deleted a finished job, then it is still read and found, with its transcript', async () => {
    const jobId = await stack.submit('erin', ['rec/part-1.wav', 'rec/part-2.wav']);
    await stack.waitForJob(jobId);
    await deleteWorkflow(jobId);
    const reply = await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('erin'));
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ jobStatus: 'completed', transcription: 'first words last words' });
    expect(await search('erin', 'completed')).toContain(jobId);
  });

  it('when a job is terminated with the CLI, then GET and search say failed at once, and the reconciler records one nobody read', async () => {
    stack.simulator.script('rec/part-2.wav', [{ status: 200, body: { text: 'never' }, delayMs: 60_000 }]);
    const address = stack.env.TEMPORAL_ADDRESS as string;
    const cli = (...args: string[]) => run(TEMPORAL_CLI, [...args, '--address', address, '--namespace', 'default']);
    const terminate = (jobId: string) =>
      cli('workflow', 'terminate', '--workflow-id', jobId, '--reason', 'operator cleanup');
    /** Runs the reconciler's Schedule now, and waits until the job is recorded failed. */
    const reconcileUntilFailed = async (jobId: string) => {
      await cli(
        'schedule',
        'trigger',
        '--schedule-id',
        jobRecordReconcileScheduleId(stack.env.TEMPORAL_TASK_QUEUE as string),
      );
      await pollUntil(
        () => search('dave', 'failed'),
        (ids) => ids.includes(jobId),
      );
    };

    const readJob = await stack.submit('dave', ['rec/part-1.wav', 'rec/part-2.wav']);
    expect(await search('dave', 'in_progress')).toContain(readJob);
    await terminate(readJob);
    // A search of running jobs checks Temporal for the page it lists; a GET reads a running job live.
    expect(await search('dave', 'in_progress')).not.toContain(readJob);
    const read = await stack.request('GET', `/transcript/${readJob}`, undefined, stack.auth('dave'));
    expect(read.json).toMatchObject({ jobStatus: 'failed', failureReason: expect.stringMatching(/terminated/) });
    expect((await recordOf(readJob))?.jobStatus).toBe('failed');

    // Nobody reads this one: the reconciler's Schedule records its end.
    const unreadJob = await stack.submit('dave', ['rec/part-1.wav', 'rec/part-2.wav']);
    await terminate(unreadJob);
    expect((await recordOf(unreadJob))?.jobStatus).toBe('in_progress');
    await reconcileUntilFailed(unreadJob);
    expect(await recordOf(unreadJob)).toMatchObject({
      jobStatus: 'failed',
      failureReason: expect.stringMatching(/terminated/),
    });

    // Nor this one, whose workflow is deleted while it runs: the reconciler records it failed, saying why.
    stack.simulator.script('rec/part-2.wav', [{ status: 200, body: { text: 'never' }, delayMs: 60_000 }]);
    const deletedJob = await stack.submit('dave', ['rec/part-1.wav', 'rec/part-2.wav']);
    await stack.waitForJob(deletedJob, (job) => job.chunks[0].status === 'completed');
    await deleteWorkflow(deletedJob);
    await reconcileUntilFailed(deletedJob);
    const deleted = await stack.request('GET', `/transcript/${deletedJob}`, undefined, stack.auth('dave'));
    expect(deleted.json).toMatchObject({
      jobStatus: 'failed',
      failureReason: "the job's workflow no longer exists; it cannot finish",
    });
    expect(deleted.json.chunks.map((chunk: { status: string }) => chunk.status)).toEqual(['completed', 'failed']);
  });

  it('when the worker is SIGKILLed after the last chunk, while its end write waits for the database, then a new worker records it', async () => {
    stack.simulator.script('rec/part-2.wav', [{ status: 200, body: { text: 'last words' }, delayMs: 1500 }]);
    const jobId = await stack.submit('erin', ['rec/part-1.wav', 'rec/part-2.wav']);
    const outage = backend.outage(stack);
    await outage.begin();
    // Raw calls: this client has no codec, and the job's memo and payloads are encrypted.
    const service = stack.temporal.workflowService;
    const execution = { namespace: 'default', execution: { workflowId: jobId } };
    const status = async () => {
      const description = await service.describeWorkflowExecution(execution);
      return { status: description.workflowExecutionInfo?.status, pending: description.pendingActivities?.length ?? 0 };
    };
    try {
      // Every chunk done, the workflow still open: it waits on its end write.
      await pollUntil(
        async () => {
          const history = await service.getWorkflowExecutionHistory(execution);
          const done = history.history?.events?.filter((event) => event.activityTaskCompletedEventAttributes).length;
          return { ...(await status()), done };
        },
        (state) => state.done === 2 && state.pending === 0 && state.status === RUNNING,
      );
      for (const worker of [...stack.workers]) await stack.stopWorker(worker, 'SIGKILL');
      expect((await status()).status).toBe(RUNNING);
      if (backend.name === 'PostgreSQL') {
        // A server that is down is named by the health check (SQLite still reads under another's write lock).
        const health = await pollUntil(
          () => stack.request('GET', '/healthz', undefined, { authorization: '' }),
          (reply) => reply.status === 503,
          10_000,
        );
        expect(health.json.error.details).toEqual({ temporal: 'ok', jobsDatabase: 'down' });
      }
    } finally {
      await outage.end();
    }
    await pollUntil(
      () => stack.request('GET', '/healthz', undefined, { authorization: '' }),
      (reply) => reply.status === 200,
      10_000,
    );
    await stack.startWorker();
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'first words last words' });
    expect(await recordOf(jobId)).toMatchObject({ jobStatus: 'completed', transcription: 'first words last words' });
  });

  it('when jobs ran before the jobs database, then npm run jobs:backfill imports them, with a progress line, and again imports nothing', async () => {
    const jobId = await stack.submit('erin', ['rec/part-1.wav']);
    await stack.waitForJob(jobId);
    // As if it had run before the jobs database existed: Temporal holds it, the database does not.
    await withDatabase((database) => database.delete(jobId));
    expect((await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('erin'))).status).toBe(404);

    const backfill = () =>
      run(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'jobs-database', 'backfill-main.js')], {
        env: stack.env,
      });
    const first = await backfill();
    expect(first.stderr).toMatch(/\[█+░*\] \d+\/\d+ jobs checked/);
    expect(first.stderr).toMatch(/backfill: done, 1 of \d+ jobs imported/);
    const reply = await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('erin'));
    expect(reply.json).toMatchObject({ jobStatus: 'completed', transcription: 'first words' });
    expect((await backfill()).stderr).toMatch(/backfill: done, 0 of \d+ jobs imported/);
  });
});
