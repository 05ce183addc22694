import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AesGcmPayloadCodec } from '../src/codec/aes-gcm-payload-codec';
import { generateEncryptionKey, parseEncryptionKeys } from '../src/codec/encryption-keys';
import type { JobsDatabase } from '../src/jobs-database/jobs-database';
import { openJobsDatabase, type JobsDatabaseSettings } from '../src/jobs-database/open-jobs-database';
import { PageTokens } from '../src/jobs-database/page-token';
import type { RateLimitBuckets } from '../src/jobs-database/rate-limit-buckets';
import { createLogger } from '../src/logger';
import { FleetRateLimiter, ProcessRateLimiter } from '../src/api/rate-limiter';
import { JobCatalog } from '../src/jobs/job-catalog';
import { JobNotFoundError, type TranscriptionJobs } from '../src/jobs/transcription-jobs';
import { startPostgres } from '../src/process/postgres-server';
import { initialChunkStates, type TranscriptResult } from '../workflows/contract';
import { summarize } from './stats';

const USERS = 100;
const JOBS_PER_USER = 100;
const READS = 2000;

/** A finished job of 6 chunks of ~700 words each, as the record of a typical job holds it. */
function finishedJob(user: number, index: number): TranscriptResult {
  const words = 'the quarterly numbers look better than last year '.repeat(80).trim();
  const createdMs = Date.parse('2026-11-01T00:00:00Z') + index * 60_000 + user;
  return {
    jobId: `job-${user}-${index}`,
    userId: `user-${user}`,
    jobStatus: 'completed',
    chunks: initialChunkStates(Array.from({ length: 6 }, (_, chunk) => `talks/${index}/part-${chunk}.wav`)).map(
      (chunk) => ({ ...chunk, status: 'completed', attempts: 1, transcript: words, durationSeconds: 240 }),
    ),
    createdTime: new Date(createdMs).toISOString(),
    completedTime: new Date(createdMs + 12_000).toISOString(),
    transcription: Array.from({ length: 6 }, () => words).join(' '),
    failureReason: null,
    retriedFrom: null,
  };
}

/**
 * What the fleet-wide rate limit adds to a request: one take from a user's shared bucket, timed one at a time
 * (the latency a request sees) and 16 at once (what a busy API process sees), against the in-process limiter.
 */
async function rateLimitTimings(
  buckets: RateLimitBuckets,
): Promise<{ shared: number[]; concurrent: number[]; local: number[] }> {
  const policy = { perSecond: 20, burst: 40 };
  const logger = createLogger('bench', 'silent');
  const fleet = new FleetRateLimiter(buckets, policy, new ProcessRateLimiter(policy), logger);
  const local = new ProcessRateLimiter(policy);
  const timed = async (take: () => Promise<unknown>) => {
    const t = performance.now();
    await take();
    return performance.now() - t;
  };
  const shared: number[] = [];
  const inProcess: number[] = [];
  for (let i = 0; i < READS; i += 1) {
    shared.push(await timed(() => fleet.take(`user:user-${i % USERS}`)));
    inProcess.push(await timed(() => local.take(`user:user-${i % USERS}`)));
  }
  const concurrent: number[] = [];
  for (let round = 0; round < READS / 16; round += 1) {
    concurrent.push(
      ...(await Promise.all(
        Array.from({ length: 16 }, (_, i) => timed(() => fleet.take(`user:user-${(round * 16 + i) % USERS}`))),
      )),
    );
  }
  return { shared, concurrent, local: inProcess };
}

async function measure(name: string, database: JobsDatabase, buckets: RateLimitBuckets): Promise<void> {
  const started = performance.now();
  for (let user = 0; user < USERS; user += 1) {
    for (let index = 0; index < JOBS_PER_USER; index += 1) await database.recordEnded(finishedJob(user, index));
  }
  const writeMs = (performance.now() - started) / (USERS * JOBS_PER_USER);
  const gets: number[] = [];
  const searches: number[] = [];
  for (let i = 0; i < READS; i += 1) {
    const user = i % USERS;
    let t = performance.now();
    await database.get(`job-${user}-${(i * 7) % JOBS_PER_USER}`);
    gets.push(performance.now() - t);
    t = performance.now();
    await database.search({ userId: `user-${user}`, jobStatus: 'completed', limit: 20 });
    searches.push(performance.now() - t);
  }
  const { notYours, missing } = await ownershipTimings(database);
  const rate = await rateLimitTimings(buckets);
  const row = (label: string, values: number[]) => {
    const s = summarize(values);
    return `${label} p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms`;
  };
  process.stdout.write(
    `${name}: ${USERS * JOBS_PER_USER} finished jobs of 6 chunks written at ${writeMs.toFixed(2)} ms each\n` +
      `  ${row('GET of a finished job', gets)}; ${row('search of 20 completed', searches)}\n` +
      `  refused reads: ${row("someone else's job", notYours)}; ${row('a missing job', missing)}\n` +
      `  rate limit per request: ${row('shared, one at a time', rate.shared)}; ${row('shared, 16 at once', rate.concurrent)}; ${row('in-process', rate.local)}\n`,
  );
}

/**
 * How long a read that must be refused takes, through the catalog's ownership check: someone else's job and a job
 * that does not exist, interleaved, so the two cannot be told apart by timing.
 */
async function ownershipTimings(database: JobsDatabase): Promise<{ notYours: number[]; missing: number[] }> {
  const temporal = new Proxy({} as TranscriptionJobs, {
    get: () => () => Promise.reject(new Error('a refused read must not reach Temporal')),
  });
  const catalog = new JobCatalog({ records: database, pageTokens: new PageTokens(Buffer.alloc(32)), temporal });
  const notYours: number[] = [];
  const missing: number[] = [];
  const asStranger = (owner: string) => owner === 'stranger';
  for (let i = 0; i < READS; i += 1) {
    for (const [jobId, into] of [
      [`job-${i % USERS}-${i % JOBS_PER_USER}`, notYours],
      [`job-${i % USERS}-missing-${i}`, missing],
    ] as const) {
      const t = performance.now();
      await catalog.readableBy(jobId, asStranger).catch((err: unknown) => {
        if (!(err instanceof JobNotFoundError)) throw err;
      });
      into.push(performance.now() - t);
    }
  }
  return { notYours, missing };
}

/**
 * `npm run bench:jobs-db`: the jobs database alone, on an idle process: 10 000 finished jobs of 6 chunks (100 users),
 * then 2000 reads of one job and 2000 searches of a page of 20, timed one at a time, then the ownership check's
 * refusals and the shared rate limit's cost per request, on SQLite and on a real PostgreSQL 15 on loopback. What the API adds on top under load is `npm run bench`'s to measure.
 */
async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'transcription-jobs-db-bench-'));
  // Under root PostgreSQL runs as the postgres user, which has to pass through this 0700 folder to its cluster.
  await chmod(dir, 0o711);
  const codec = new AesGcmPayloadCodec(parseEncryptionKeys(generateEncryptionKey('bench')));
  const run = async (name: string, settings: JobsDatabaseSettings) => {
    const { database, rateLimitBuckets } = await openJobsDatabase(settings, codec);
    try {
      await measure(name, database, rateLimitBuckets);
    } finally {
      await database.close();
    }
  };
  try {
    await run('SQLite', { sqliteFile: path.join(dir, 'jobs.sqlite') });
    const postgres = await startPostgres({ dataDir: path.join(dir, 'postgres'), databases: ['jobs'] });
    try {
      await run('PostgreSQL', { url: postgres.url('jobs'), sqliteFile: '' });
    } finally {
      await postgres.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
