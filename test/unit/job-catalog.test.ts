import type { JobsDatabase } from '../../src/jobs-database/jobs-database';
import { JobCatalog, RUNNING_CHECK_INTERVAL_MS, RUNNING_JOBS_PER_PAGE } from '../../src/jobs/job-catalog';
import { JobNotFoundError, type TranscriptionJobs } from '../../src/jobs/transcription-jobs';
import { initialChunkStates, type TranscriptResult } from '../../workflows/contract';
import { sqliteTestDatabase, testCodec, type TestJobsDatabase } from '../support/jobs-databases';
import { PageTokens } from '../../src/jobs-database/page-token';

const bobsJob: TranscriptResult = {
  jobId: 'job-bobs',
  userId: 'bob',
  jobStatus: 'completed',
  chunks: initialChunkStates(['board/minutes.wav']).map((chunk) => ({ ...chunk, status: 'completed', attempts: 1 })),
  createdTime: '2026-12-01T09:00:00.000Z',
  completedTime: '2026-12-01T09:00:30.000Z',
  transcription: 'the acquisition closes friday',
  failureReason: null,
  retriedFrom: null,
};

describe('JobCatalog', () => {
  let store: TestJobsDatabase;
  let database: JobsDatabase;
  let catalog: JobCatalog;

  beforeAll(async () => {
    store = await sqliteTestDatabase();
    database = (await store.open()).database;
    await database.recordEnded(bobsJob);
    // TEMPORAL DOUBLE: finished jobs are answered from the database; any call to Temporal fails the test.
    const temporal = new Proxy({} as TranscriptionJobs, {
      get: (_, name) => () => Promise.reject(new Error(`Temporal was called (${String(name)})`)),
    });
    catalog = new JobCatalog({ records: database, pageTokens: new PageTokens(testCodec().deriveKey('t')), temporal });
  });
  afterAll(async () => {
    await database?.close();
    await store?.cleanup();
  });

  it("when a user asks for someone else's job, then it is refused as missing before anything of the job is read", async () => {
    const read = jest.spyOn(database, 'get');
    const asAlice = (owner: string) => owner === 'alice';
    await expect(catalog.readableBy('job-bobs', asAlice)).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(catalog.readableBy('job-missing', asAlice)).rejects.toBeInstanceOf(JobNotFoundError);
    expect(read).not.toHaveBeenCalled();
    await expect(catalog.readableBy('job-bobs', (owner) => owner === 'bob')).resolves.toEqual(bobsJob);
    expect(read).toHaveBeenCalledTimes(1);
    read.mockRestore();
  });

  it('when a user lists 30 running jobs asking for 100 a page, then each page checks at most 20 with Temporal, and paging reaches them all', async () => {
    for (let i = 0; i < 30; i += 1) {
      const createdTime = new Date(Date.parse('2026-12-01T10:00:00.000Z') + i * 1000).toISOString();
      await database.recordStarted({
        ...bobsJob,
        jobId: `job-carol-${i}`,
        userId: 'carol',
        jobStatus: 'in_progress',
        chunks: initialChunkStates(['talk.wav']),
        createdTime,
        completedTime: null,
        transcription: null,
      });
    }
    // TEMPORAL DOUBLE: every job it is asked about is still running; it counts how many it was asked about.
    const checked: number[] = [];
    const temporal = {
      closedAmong: (jobIds: readonly string[]) => {
        checked.push(jobIds.length);
        return Promise.resolve(new Set<string>());
      },
    } as unknown as TranscriptionJobs;
    const live = new JobCatalog({
      records: database,
      pageTokens: new PageTokens(testCodec().deriveKey('t')),
      temporal,
    });
    const first = await live.search({ userId: 'carol', jobStatus: 'in_progress', limit: 100 });
    expect(first.results).toHaveLength(RUNNING_JOBS_PER_PAGE);
    expect(first.nextPageToken).not.toBeNull();
    const second = await live.search({
      userId: 'carol',
      jobStatus: 'in_progress',
      limit: 100,
      pageToken: first.nextPageToken as string,
    });
    expect(second.results).toHaveLength(30 - RUNNING_JOBS_PER_PAGE);
    expect(second.nextPageToken).toBeNull();
    expect(checked).toEqual([RUNNING_JOBS_PER_PAGE, 30 - RUNNING_JOBS_PER_PAGE]);
    expect(new Set([...first.results, ...second.results].map((job) => job.jobId)).size).toBe(30);
  });
});

describe('JobCatalog reading running jobs', () => {
  let store: TestJobsDatabase;
  let database: JobsDatabase;

  beforeAll(async () => {
    store = await sqliteTestDatabase();
    database = (await store.open()).database;
  });
  afterAll(async () => {
    await database?.close();
    await store?.cleanup();
  });

  async function runningJob(jobId: string): Promise<TranscriptResult> {
    const job: TranscriptResult = {
      ...bobsJob,
      jobId,
      jobStatus: 'in_progress',
      chunks: initialChunkStates(['talk/a.wav', 'talk/b.wav']),
      completedTime: null,
      transcription: null,
    };
    await database.recordStarted(job);
    await database.recordChunk(jobId, { ...job.chunks[0]!, status: 'completed', attempts: 1, transcript: 'hello' });
    await database.recordAttemptStarted(jobId, { index: 1, path: 'talk/b.wav', attempts: 1 });
    return job;
  }

  /** TEMPORAL DOUBLE: every job asked about has closed, from outside, and ended as `ended` says. */
  function catalogWhereTemporalSays(ended: TranscriptResult): JobCatalog {
    const temporal = {
      closedAmong: (jobIds: readonly string[]) => Promise.resolve(new Set(jobIds)),
      get: () => Promise.resolve(ended),
    } as unknown as TranscriptionJobs;
    return new JobCatalog({ records: database, pageTokens: new PageTokens(testCodec().deriveKey('t')), temporal });
  }

  it('when a running job is read, then it answers from its record at once, whatever Temporal is doing', async () => {
    await runningJob('job-running-1');
    // TEMPORAL DOUBLE: a server that has not answered yet; each check waits until the test lets it answer.
    const unanswered: ((closed: Set<string>) => void)[] = [];
    const temporal = {
      closedAmong: () => new Promise<Set<string>>((resolve) => unanswered.push(resolve)),
    } as unknown as TranscriptionJobs;
    const checks = () => unanswered.length;
    let now = 1_000_000;
    const catalog = new JobCatalog({
      records: database,
      pageTokens: new PageTokens(testCodec().deriveKey('t')),
      temporal,
      now: () => now,
    });
    const job = await catalog.get('job-running-1');
    expect(job.jobStatus).toBe('in_progress');
    expect(job.chunks.map((chunk) => [chunk.status, chunk.attempts, chunk.transcript])).toEqual([
      ['completed', 1, 'hello'],
      ['in_progress', 1, null],
    ]);
    // Reads within the interval do not ask again; one after it does.
    await catalog.get('job-running-1');
    now += RUNNING_CHECK_INTERVAL_MS - 1;
    await catalog.get('job-running-1');
    expect(checks()).toBe(1);
    now += 1;
    await catalog.get('job-running-1');
    expect(checks()).toBe(2);
    for (const answer of unanswered) answer(new Set());
    await catalog.settle();
  });

  it('when the check finds the workflow closed without its end recorded, then the next read says how it ended', async () => {
    const running = await runningJob('job-terminated-1');
    const ended: TranscriptResult = {
      ...running,
      jobStatus: 'failed',
      completedTime: '2026-12-01T09:01:00.000Z',
      failureReason: 'job terminated: by an operator',
    };
    const catalog = catalogWhereTemporalSays(ended);
    expect((await catalog.get('job-terminated-1')).jobStatus).toBe('in_progress');
    await catalog.settle();
    expect(await catalog.get('job-terminated-1')).toMatchObject({
      jobStatus: 'failed',
      failureReason: 'job terminated: by an operator',
    });
  });

  it('when a job is terminated between a chunk being transcribed and Temporal hearing of it, then the chunk keeps its text', async () => {
    const running = await runningJob('job-terminated-2');
    // The history closed before the first chunk's completion reached it.
    const ended: TranscriptResult = {
      ...running,
      jobStatus: 'failed',
      chunks: running.chunks.map((chunk) => ({ ...chunk, status: 'failed', attempts: 1, error: 'job terminated' })),
      completedTime: '2026-12-01T09:01:00.000Z',
      failureReason: 'job terminated: by an operator',
    };
    const catalog = catalogWhereTemporalSays(ended);
    await catalog.get('job-terminated-2');
    await catalog.settle();
    const job = await catalog.get('job-terminated-2');
    expect(job.jobStatus).toBe('failed');
    expect(job.chunks.map((chunk) => [chunk.status, chunk.transcript])).toEqual([
      ['completed', 'hello'],
      ['failed', null],
    ]);
  });
});
