import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectJobsDatabase, openJobsDatabase } from '../../src/jobs-database/open-jobs-database';
import type { JobsDatabase } from '../../src/jobs-database/jobs-database';
import { generateEncryptionKey } from '../../src/codec/encryption-keys';
import { initialChunkStates, type ChunkState, type JobStatus, type TranscriptResult } from '../../workflows/contract';
import { sqliteTestDatabase, testCodec, type TestJobsDatabase } from '../support/jobs-databases';
import { postgresTestDatabase } from '../support/postgres-jobs-database';
import { startTestPostgres } from '../support/postgres-server';

const execFileAsync = promisify(execFile);
const CREATE_JOBS_DATABASE = path.resolve(__dirname, '..', '..', 'deploy', 'temporal', 'create-jobs-database.sh');

jest.setTimeout(120_000);

const T0 = Date.parse('2026-12-01T09:00:00.000Z');

function job(jobId: string, overrides: Partial<TranscriptResult> = {}): TranscriptResult {
  return {
    jobId,
    userId: 'alice',
    jobStatus: 'in_progress',
    chunks: initialChunkStates(['board/part-1.wav', 'board/part-2.wav']),
    createdTime: new Date(T0).toISOString(),
    completedTime: null,
    transcription: null,
    failureReason: null,
    retriedFrom: null,
    ...overrides,
  };
}

function completed(started: TranscriptResult, transcription = 'the merger closes friday'): TranscriptResult {
  return {
    ...started,
    jobStatus: 'completed',
    completedTime: new Date(Date.parse(started.createdTime) + 30_000).toISOString(),
    transcription,
    chunks: started.chunks.map((chunk) => ({
      ...chunk,
      status: 'completed',
      attempts: 1,
      transcript: `${transcription} (${chunk.index})`,
      durationSeconds: 12.5,
      segments: [{ startSeconds: 0, endSeconds: 12.5, text: transcription }],
    })),
  };
}

describe.each([
  ['SQLite', sqliteTestDatabase],
  ['PostgreSQL', postgresTestDatabase],
])('the jobs database on %s', (_name, create) => {
  let store: TestJobsDatabase;
  let db: JobsDatabase;

  beforeAll(async () => {
    store = await create();
    db = (await store.open()).database;
  });
  afterAll(async () => {
    await db?.close();
    await store?.cleanup();
  });

  it('when processes open it at once and again, then the schema is made once and opens every time', async () => {
    const opened = await Promise.all([store.open(), store.open(), store.open()]);
    await Promise.all(opened.map(({ database }) => database.close()));
    const again = await store.open();
    await again.database.close();
  });

  it('when a job starts, then it reads back in progress with its chunks pending, and a second start changes nothing', async () => {
    const started = job('job-start-1', { retriedFrom: 'job-old' });
    await db.recordStarted(started);
    await db.recordStarted({ ...started, userId: 'mallory', chunks: initialChunkStates(['other.wav']) });
    expect(await db.get('job-start-1')).toEqual(started);
    expect(await db.get('job-missing')).toBeUndefined();
  });

  it('when chunks progress, then the job shows them, and once it ends a late attempt changes nothing', async () => {
    const started = job('job-progress-1');
    await db.recordStarted(started);
    await db.recordChunk('job-progress-1', {
      ...started.chunks[1]!,
      status: 'in_progress',
      attempts: 2,
      error: 'ASR answered 503',
    });
    const running = await db.get('job-progress-1');
    expect(running?.chunks[1]).toMatchObject({ status: 'in_progress', attempts: 2, error: 'ASR answered 503' });
    expect(running?.chunks[0]).toMatchObject({ status: 'pending', attempts: 0 });

    const ended = completed(started);
    await db.recordEnded(ended);
    await db.recordChunk('job-progress-1', { ...started.chunks[0]!, status: 'failed', attempts: 3, error: 'late' });
    expect(await db.get('job-progress-1')).toEqual(ended);
  });

  it('when attempts start, then the chunk reads under way with their count, a retry keeps the last error, and a finished chunk stays finished', async () => {
    const started = job('job-attempts-1');
    await db.recordStarted(started);
    const [first, second] = started.chunks as [ChunkState, ChunkState];
    await db.recordAttemptStarted('job-attempts-1', { index: 0, path: first.path, attempts: 1 });
    expect((await db.get('job-attempts-1'))?.chunks[0]).toMatchObject({
      status: 'in_progress',
      attempts: 1,
      error: null,
    });

    await db.recordChunk('job-attempts-1', { ...first, status: 'in_progress', attempts: 1, error: 'ASR answered 503' });
    await db.recordAttemptStarted('job-attempts-1', { index: 0, path: first.path, attempts: 2 });
    expect((await db.get('job-attempts-1'))?.chunks[0]).toMatchObject({
      status: 'in_progress',
      attempts: 2,
      error: 'ASR answered 503',
    });

    await db.recordChunk('job-attempts-1', { ...second, status: 'completed', attempts: 1, transcript: 'done' });
    // An attempt the server had given up on, starting late, does not reopen the chunk.
    await db.recordAttemptStarted('job-attempts-1', { index: 1, path: second.path, attempts: 1 });
    expect((await db.get('job-attempts-1'))?.chunks[1]).toMatchObject({ status: 'completed', transcript: 'done' });
  });

  it('when a job is cancelled after a chunk was transcribed but before its workflow heard of it, then the record keeps that chunk, also when the end is written again', async () => {
    const started = job('job-cancelled-late');
    await db.recordStarted(started);
    const [first] = started.chunks as [ChunkState, ChunkState];
    await db.recordChunk('job-cancelled-late', {
      ...first,
      status: 'completed',
      attempts: 1,
      transcript: 'kept words',
    });
    const cancelled: TranscriptResult = {
      ...started,
      jobStatus: 'failed',
      failureReason: 'canceled',
      completedTime: new Date(T0 + 60_000).toISOString(),
      chunks: started.chunks.map((chunk) => ({ ...chunk, status: 'failed', attempts: 1, error: 'canceled' })),
    };
    const recorded = await db.recordEnded(cancelled);
    await db.recordEnded(cancelled);
    const read = await db.get('job-cancelled-late');
    expect(read).toEqual(recorded);
    expect(read?.chunks.map((chunk) => [chunk.status, chunk.transcript, chunk.error])).toEqual([
      ['completed', 'kept words', null],
      ['failed', null, 'canceled'],
    ]);
  });

  it('when a job ends without its start recorded, or its end is written twice, then it reads as it ended', async () => {
    const ended = completed(job('job-end-only'));
    await db.recordEnded(ended);
    await db.recordEnded(ended);
    expect(await db.get('job-end-only')).toEqual(ended);
  });

  it('when a job is recorded, then its paths, transcript and errors are not in the database in plain text', async () => {
    const failed: TranscriptResult = {
      ...job('job-sealed'),
      jobStatus: 'failed',
      completedTime: new Date(T0 + 1000).toISOString(),
      failureReason: 'chunk 1 (board/part-1.wav): secret acquisition target',
    };
    await db.recordEnded(completed(job('job-sealed-ok'), 'project nightingale is over budget'));
    await db.recordEnded(failed);
    const sql = connectJobsDatabase(store.settings);
    try {
      const rows = await sql.query<Record<string, unknown>>('SELECT * FROM jobs');
      const dump = JSON.stringify(rows);
      for (const secret of ['nightingale', 'board/part', 'acquisition']) expect(dump).not.toContain(secret);
      expect(rows.find((row) => row.job_id === 'job-sealed')).toMatchObject({ user_id: 'alice', key_id: 'test-key' });
    } finally {
      await sql.close();
    }
  });

  it('when the keys rotate, then old records still read, and new ones are sealed with the new key', async () => {
    const oldKey = generateEncryptionKey('2026-11');
    const before = await store.open(testCodec(oldKey));
    await before.database.recordEnded(completed(job('job-rotated-old')));
    await before.database.close();
    const after = await store.open(testCodec(`${generateEncryptionKey('2026-12')},${oldKey}`));
    try {
      expect((await after.database.get('job-rotated-old'))?.transcription).toBe('the merger closes friday');
      await after.database.recordEnded(completed(job('job-rotated-new')));
      const sql = connectJobsDatabase(store.settings);
      const rows = await sql.query<{ job_id: string; key_id: string }>(
        "SELECT job_id, key_id FROM jobs WHERE job_id LIKE 'job-rotated-%' ORDER BY job_id",
      );
      await sql.close();
      expect(rows).toEqual([
        { job_id: 'job-rotated-new', key_id: '2026-12' },
        { job_id: 'job-rotated-old', key_id: '2026-11' },
      ]);
    } finally {
      await after.database.close();
    }
  });

  it('when hundreds of jobs are paged through while new ones arrive, then each comes exactly once, newest first', async () => {
    const userId = 'pager';
    const statuses: JobStatus[] = ['completed', 'failed', 'in_progress'];
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 1) {
      // Every third pair shares its creation time, so the job id has to break the tie.
      const createdTime = new Date(T0 + Math.floor(i / 2) * 1000).toISOString();
      const started = job(`job-page-${String(i).padStart(3, '0')}`, { userId, createdTime });
      const status = statuses[i % 3]!;
      if (status === 'in_progress') await db.recordStarted(started);
      else
        await db.recordEnded({
          ...completed(started),
          jobStatus: status,
          failureReason: status === 'failed' ? 'x' : null,
          transcription: status === 'failed' ? null : 'x',
        });
      if (status === 'completed') ids.push(started.jobId);
    }
    const seen: string[] = [];
    let after: { createdMs: number; jobId: string } | undefined;
    for (let page = 0; ; page += 1) {
      const result = await db.search({ userId, jobStatus: 'completed', limit: 7, after });
      seen.push(...result.jobs.map((found) => found.jobId));
      expect(result.jobs.every((found) => found.userId === userId && found.jobStatus === 'completed')).toBe(true);
      // A newer job arriving mid-way belongs before the pages already read: it must not shift the rest.
      if (page === 3)
        await db.recordEnded(
          completed(job('job-page-new', { userId, createdTime: new Date(T0 + 999_000).toISOString() })),
        );
      if (!result.next) break;
      after = result.next;
    }
    const newestFirst = [...ids].sort((a, b) => createdOf(b) - createdOf(a) || b.localeCompare(a));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(newestFirst);
  });

  it('when a search names a creation-time range, then only jobs created in it are listed', async () => {
    const userId = 'ranger';
    for (let i = 0; i < 5; i += 1) {
      await db.recordEnded(
        completed(job(`job-range-${i}`, { userId, createdTime: new Date(T0 + i * 60_000).toISOString() })),
      );
    }
    const result = await db.search({
      userId,
      jobStatus: 'completed',
      limit: 100,
      createdFromMs: T0 + 60_000,
      createdBeforeMs: T0 + 4 * 60_000,
    });
    expect(result.jobs.map((found) => found.jobId)).toEqual(['job-range-3', 'job-range-2', 'job-range-1']);
  });

  it('when records are deleted one by one or by age, then they are gone and the rest stay', async () => {
    await db.recordEnded(completed(job('job-delete-me', { userId: 'deleter' })));
    expect(await db.delete('job-delete-me')).toBe(true);
    expect(await db.delete('job-delete-me')).toBe(false);
    expect(await db.get('job-delete-me')).toBeUndefined();

    const old = new Date(T0 - 500 * 86_400_000).toISOString();
    await db.recordStarted(job('job-ancient-1', { userId: 'ager', createdTime: old }));
    await db.recordChunk('job-ancient-1', { ...job('x').chunks[0]!, status: 'in_progress', attempts: 1 });
    await db.recordEnded(completed(job('job-ancient-2', { userId: 'ager', createdTime: old })));
    await db.recordEnded(completed(job('job-recent', { userId: 'ager' })));
    expect(await db.deleteCreatedBefore(T0 - 400 * 86_400_000, 1)).toBe(1);
    expect(await db.deleteCreatedBefore(T0 - 400 * 86_400_000, 1000)).toBe(1);
    expect(await db.deleteCreatedBefore(T0 - 400 * 86_400_000, 1000)).toBe(0);
    expect(await db.get('job-recent')).toBeDefined();
    expect(await db.existing(['job-ancient-1', 'job-ancient-2', 'job-recent'])).toEqual(new Set(['job-recent']));
  });

  it('when the reconciler asks, then it gets the jobs still in progress created before a time, oldest first', async () => {
    await db.recordStarted(
      job('job-unfinished-b', { userId: 'reconciled', createdTime: new Date(T0 - 2000).toISOString() }),
    );
    await db.recordStarted(
      job('job-unfinished-a', { userId: 'reconciled', createdTime: new Date(T0 - 3000).toISOString() }),
    );
    await db.recordStarted(
      job('job-unfinished-new', { userId: 'reconciled', createdTime: new Date(T0 + 5000).toISOString() }),
    );
    const ids = await db.unfinishedCreatedBefore(T0 - 1000, 100);
    expect(ids.filter((id) => id.startsWith('job-unfinished'))).toEqual(['job-unfinished-a', 'job-unfinished-b']);
  });

  it("when a codec session is revoked through one API process, then another sees it, and a user's revocation covers only sessions issued before it", async () => {
    const [first, second] = await Promise.all([store.open(), store.open()]);
    try {
      const issued = Date.now() - 1000;
      await first.sessionRevocations.revokeSession('session-a', Date.now() + 60_000);
      expect(await second.sessionRevocations.isRevoked('session-a', 'ops', issued)).toBe(true);
      expect(await second.sessionRevocations.isRevoked('session-b', 'ops', issued)).toBe(false);

      await second.sessionRevocations.revokeUser('lead', 60_000);
      expect(await first.sessionRevocations.isRevoked('session-c', 'lead', issued)).toBe(true);
      expect(await first.sessionRevocations.isRevoked('session-d', 'lead', Date.now() + 1000)).toBe(false);
    } finally {
      await Promise.all([first.database.close(), second.database.close()]);
    }
  });

  it('when users have jobs running, then admission reads how many chunks each holds, and finished jobs do not count', async () => {
    await db.recordStarted(job('job-chunks-1', { userId: 'heavy' }));
    await db.recordStarted(job('job-chunks-2', { userId: 'heavy' }));
    await db.recordEnded(completed(job('job-chunks-3', { userId: 'heavy' })));
    await db.recordStarted(job('job-chunks-4', { userId: 'light' }));
    const held = await db.chunksInFlightByUser();
    expect(held.get('heavy')).toBe(4);
    expect(held.get('light')).toBe(2);
  });

  it("when four API processes spend one user's rate allowance at once, then exactly the burst is allowed between them", async () => {
    const processes = await Promise.all([store.open(), store.open(), store.open(), store.open()]);
    try {
      const policy = { perSecond: 0.001, burst: 10 };
      const now = Date.now();
      const takes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => processes[i % 4]!.rateLimitBuckets.take('user:burst', policy, now)),
      );
      expect(takes.filter((take) => take.spent)).toHaveLength(10);
      // An hour later the bucket is full again, never fuller.
      const later = await Promise.all(
        Array.from({ length: 12 }, () =>
          processes[0].rateLimitBuckets.take('user:burst', { ...policy, perSecond: 1 }, now + 3_600_000),
        ),
      );
      expect(later.filter((take) => take.spent)).toHaveLength(10);
    } finally {
      await Promise.all(processes.map(({ database }) => database.close()));
    }
  });
});

function createdOf(jobId: string): number {
  const i = Number(jobId.slice('job-page-'.length));
  return T0 + Math.floor(i / 2) * 1000;
}

describe("the production compose's jobs-database job, on a real PostgreSQL", () => {
  it('when it runs, and runs again, then the jobs database exists, owned by its own user, and the service migrates it', async () => {
    const server = await startTestPostgres();
    try {
      const env = {
        PATH: process.env.PATH,
        PGHOST: server.host,
        PGPORT: String(server.port),
        PGUSER: server.user,
        PGPASSWORD: 'unused-with-trust-auth',
        JOBS_DATABASE: 'transcription_jobs',
        JOBS_DATABASE_USER: 'transcription_app',
        JOBS_DATABASE_PASSWORD: "it's a secret",
      };
      for (let run = 0; run < 2; run += 1) {
        const { stdout } = await execFileAsync('sh', [CREATE_JOBS_DATABASE], { env });
        expect(stdout).toContain('transcription_jobs ready for transcription_app');
      }
      const url = `postgresql://transcription_app:x@${server.host}:${server.port}/transcription_jobs`;
      const { database } = await openJobsDatabase({ url, sqliteFile: '' }, testCodec());
      await database.recordStarted(job('job-compose'));
      await database.close();
      const sql = connectJobsDatabase({ url, sqliteFile: '' });
      const [owner] = await sql.query<{ owner: string }>(
        "SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'jobs'",
      );
      await sql.close();
      expect(owner?.owner).toBe('transcription_app');
    } finally {
      await server.cleanup();
    }
  });
});
