import type { JobStatus, TranscriptResult } from '../../workflows/contract';
import type { JobsDatabase } from '../jobs-database/jobs-database';
import type { PageTokens } from '../jobs-database/page-token';
import { jobAsTemporalHoldsIt } from './closed-jobs';
import { JobNotFoundError, type TranscriptionJobs } from './transcription-jobs';

export interface SearchJobsRequest {
  userId: string;
  jobStatus: JobStatus;
  limit: number;
  pageToken?: string;
  createdAfter?: string;
  createdBefore?: string;
}

/** A finished job cannot be cancelled, and a running one cannot be deleted: it is cancelled instead. */
export class JobStillRunningError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} is still running`);
    this.name = 'JobStillRunningError';
  }
}

export interface JobCatalogDependencies {
  records: Pick<JobsDatabase, 'ownerOf' | 'get' | 'search' | 'recordEnded' | 'delete' | 'ping'>;
  pageTokens: PageTokens;
  temporal: Pick<
    TranscriptionJobs,
    'get' | 'closedAmong' | 'deleteExecution' | 'cancel' | 'waitForEnd' | 'checkHealth'
  >;
  now?: () => number;
}

/**
 * How often, at most, one API process checks a running job's record against Temporal behind the reads that answer
 * from it: a job closed from outside (terminated, reset away, timed out) reads as ended within about this long.
 */
export const RUNNING_CHECK_INTERVAL_MS = 5000;

/**
 * The most jobs a page of running jobs holds, whatever `limit` asks: each is checked against Temporal (a describe),
 * so this bounds the work one search causes. Pages of finished jobs cost one database query and take `limit`.
 */
export const RUNNING_JOBS_PER_PAGE = 20;

/**
 * Every job a user has, read from the jobs database, the system of record: a finished job and every search are
 * answered by it alone. A running job is answered from its record too (the worker records each chunk attempt's start
 * and outcome), so a read never waits on Temporal or a worker. Behind the reads, at most every
 * {@link RUNNING_CHECK_INTERVAL_MS}, the job is checked against Temporal's server (a describe, never a worker), and a
 * job whose workflow has closed without recording its end (terminated, timed out) is repaired: the next read says how
 * it ended. A search of running jobs checks its page before it answers.
 */
export class JobCatalog {
  private readonly checkedAt = new Map<string, number>();
  private readonly checks = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly deps: JobCatalogDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * The job, if `mayRead` allows its owner. The owner is looked up first, by the key alone, so a job the caller may
   * not see is refused before anything of it is read, and answers like a missing one, in the same time.
   */
  async readableBy(jobId: string, mayRead: (ownerUserId: string) => boolean): Promise<TranscriptResult> {
    const owner = await this.deps.records.ownerOf(jobId);
    if (owner === undefined || !mayRead(owner)) throw new JobNotFoundError(jobId);
    return this.get(jobId);
  }

  async get(jobId: string): Promise<TranscriptResult> {
    const record = await this.deps.records.get(jobId);
    if (!record) throw new JobNotFoundError(jobId);
    if (record.jobStatus === 'in_progress') this.checkBehind(record);
    return record;
  }

  /** Resolves once the checks under way behind reads have ended: before the Temporal connection closes. */
  async settle(): Promise<void> {
    while (this.checks.size > 0) await Promise.all([...this.checks]);
  }

  /** A page of one user's jobs in one status, newest first. */
  async search(request: SearchJobsRequest): Promise<{ results: TranscriptResult[]; nextPageToken: string | null }> {
    const search = JSON.stringify([request.userId, request.jobStatus, request.createdAfter, request.createdBefore]);
    const page = await this.deps.records.search({
      userId: request.userId,
      jobStatus: request.jobStatus,
      limit: request.jobStatus === 'in_progress' ? Math.min(request.limit, RUNNING_JOBS_PER_PAGE) : request.limit,
      after: request.pageToken === undefined ? undefined : this.deps.pageTokens.open(search, request.pageToken),
      createdFromMs: request.createdAfter === undefined ? undefined : Date.parse(request.createdAfter),
      createdBeforeMs: request.createdBefore === undefined ? undefined : Date.parse(request.createdBefore),
    });
    let results = page.jobs;
    if (request.jobStatus === 'in_progress') {
      const closed = await this.deps.temporal.closedAmong(results.map((job) => job.jobId));
      await Promise.all(results.filter((job) => closed.has(job.jobId)).map((job) => this.live(job)));
      results = results.filter((job) => !closed.has(job.jobId));
    }
    return { results, nextPageToken: page.next ? this.deps.pageTokens.seal(search, page.next) : null };
  }

  /**
   * Deletes a finished job: its record, and its workflow's history in Temporal, so its transcript is gone from
   * both. {@link JobStillRunningError} while it runs.
   */
  async delete(job: TranscriptResult): Promise<void> {
    if (job.jobStatus === 'in_progress') throw new JobStillRunningError(job.jobId);
    await this.deps.temporal.deleteExecution(job.jobId);
    await this.deps.records.delete(job.jobId);
  }

  /** Asks a running job to stop: its workflow cancels its chunk activities, which abort their ASR calls. */
  cancel(jobId: string): Promise<void> {
    return this.deps.temporal.cancel(jobId);
  }

  /** Resolves when the job has finished, or after `ms`, whichever comes first. */
  waitForEnd(jobId: string, ms: number): Promise<void> {
    return this.deps.temporal.waitForEnd(jobId, ms);
  }

  /** The checks `/healthz` runs: each resolves once its part answers. */
  healthChecks(): { temporal: () => Promise<void>; jobsDatabase: () => Promise<void> } {
    return { temporal: () => this.deps.temporal.checkHealth(), jobsDatabase: () => this.deps.records.ping() };
  }

  /**
   * Checks a running job against Temporal unless this process did so lately, without holding up the read. A check
   * that fails (Temporal down) is forgotten, so the next read tries again.
   */
  private checkBehind(record: TranscriptResult): void {
    const now = this.now();
    const last = this.checkedAt.get(record.jobId);
    if (last !== undefined && now - last < RUNNING_CHECK_INTERVAL_MS) return;
    this.forgetChecksBefore(now - RUNNING_CHECK_INTERVAL_MS);
    this.checkedAt.delete(record.jobId);
    this.checkedAt.set(record.jobId, now);
    const check = (async () => {
      try {
        const closed = await this.deps.temporal.closedAmong([record.jobId]);
        if (closed.has(record.jobId)) await this.live(record);
      } catch {
        this.checkedAt.delete(record.jobId);
      }
    })();
    this.checks.add(check);
    void check.finally(() => this.checks.delete(check));
  }

  /** Checks older than the interval decide nothing any more: dropped, so the map holds only recently read jobs. */
  private forgetChecksBefore(cutoffMs: number): void {
    for (const [jobId, checkedMs] of this.checkedAt) {
      // Insertion order is check order, so the first recent one ends the sweep.
      if (checkedMs >= cutoffMs) break;
      this.checkedAt.delete(jobId);
    }
  }

  /**
   * The running job as Temporal's server holds it now, with the chunks' recorded progress (never a worker's query,
   * which would wait behind the job's workflow task in flight); recorded at once if it turns out to have ended.
   */
  private async live(record: TranscriptResult): Promise<TranscriptResult> {
    const job = await jobAsTemporalHoldsIt(this.deps.temporal, record);
    return job.jobStatus === 'in_progress' ? job : this.deps.records.recordEnded(job);
  }
}
