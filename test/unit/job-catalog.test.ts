import type { JobsDatabase } from '../../src/jobs-database/jobs-database';
import { JobCatalog, RUNNING_JOBS_PER_PAGE } from '../../src/jobs/job-catalog';
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
