import type { TranscriptResult } from '../../workflows/contract';
import { initialJobState, transcriptResult } from '../../workflows/transcript-result';
import type { JobsDatabase } from '../jobs-database/jobs-database';
import type { AudioStore } from '../storage/audio-store';
import { checkChunkFiles } from './chunk-files';
import { IdempotencyConflictError, newJobId, requestFingerprint } from './idempotency';
import type { JobAdmission } from './job-admission';
import { retryPlan } from './retry-plan';
import { JobAlreadyStartedError, type StartJobRequest, type TranscriptionJobs } from './transcription-jobs';

export interface SubmitJobRequest {
  userId: string;
  audioChunkPaths: string[];
  idempotencyKey?: string;
  /** Already checked against the allow-list. */
  callbackUrl?: string;
}

export interface SubmittedJob {
  jobId: string;
  /** True when an idempotency key matched a job started earlier: that job is answered, nothing new starts. */
  replayed: boolean;
}

export interface JobSubmissionDependencies {
  jobs: Pick<TranscriptionJobs, 'start' | 'startedWith'>;
  audio: Pick<AudioStore, 'inspect'>;
  admission: Pick<JobAdmission, 'admit'>;
  records: Pick<JobsDatabase, 'recordStarted'>;
  /** The server-side key idempotent job ids are derived with. */
  jobIdKey: Buffer;
}

/**
 * How a job comes to be, in order: a repeat of a keyed request answers with the job it started; otherwise the
 * files are checked in the user's audio space, the user's quota and the fleet's backlog are consulted, and the
 * workflow starts. Only a job that really starts is checked and counted.
 */
export class JobSubmission {
  constructor(private readonly deps: JobSubmissionDependencies) {}

  /** A new job over the user's files; every problem with them is reported at once. */
  submit(request: SubmitJobRequest): Promise<SubmittedJob> {
    const paths = request.audioChunkPaths.map((path, index) => ({ index, path }));
    return this.start(
      {
        userId: request.userId,
        audioChunkPaths: request.audioChunkPaths,
        callbackUrl: request.callbackUrl,
        jobId: newJobId(request.userId, request.idempotencyKey, this.deps.jobIdKey),
        fingerprint: requestFingerprint(request),
        createdTime: new Date().toISOString(),
      },
      { idempotencyKey: request.idempotencyKey, paths },
    );
  }

  /**
   * A new job that retries a failed one over the same files: the chunks it transcribed are carried over, only the
   * others are checked and sent to the ASR again. The new job belongs to the failed job's owner.
   */
  async retry(
    failed: TranscriptResult,
    request: { idempotencyKey?: string; callbackUrl?: string },
  ): Promise<SubmittedJob & { reusedChunks: number }> {
    const plan = retryPlan(failed);
    const { userId } = failed;
    const identity = { userId, audioChunkPaths: plan.audioChunkPaths, retriedFrom: failed.jobId, ...request };
    const submitted = await this.start(
      {
        userId,
        audioChunkPaths: plan.audioChunkPaths,
        callbackUrl: request.callbackUrl,
        retryOf: { jobId: failed.jobId, completedChunks: plan.completedChunks },
        jobId: newJobId(userId, request.idempotencyKey, this.deps.jobIdKey),
        fingerprint: requestFingerprint(identity),
        createdTime: new Date().toISOString(),
      },
      {
        idempotencyKey: request.idempotencyKey,
        paths: plan.chunksToCheck,
      },
    );
    return { ...submitted, reusedChunks: plan.completedChunks.length };
  }

  private async start(
    job: StartJobRequest,
    check: { idempotencyKey?: string; paths: { index: number; path: string }[] },
  ): Promise<SubmittedJob> {
    if (check.idempotencyKey) {
      const replayed = await this.replay(job);
      if (replayed) return replayed;
    }
    await checkChunkFiles(this.deps.audio, job.userId, check.paths);
    await this.deps.admission.admit(job.userId, job.jobId, check.paths.length);
    try {
      await this.deps.jobs.start(job);
      await this.record(job);
      return { jobId: job.jobId, replayed: false };
    } catch (err) {
      // Two identical keyed requests raced past the replay check: the loser answers with the winner's job.
      if (!(err instanceof JobAlreadyStartedError) || !check.idempotencyKey) throw err;
      const replayed = await this.replay(job);
      if (!replayed) throw err;
      return replayed;
    }
  }

  /**
   * Records the job as started before the API answers, so a search right after lists it (its workflow records the
   * same, in case this process dies first). A repeat of a keyed request leaves the first record as it is.
   */
  private async record(job: StartJobRequest): Promise<void> {
    await this.deps.records.recordStarted(
      transcriptResult({
        ...initialJobState(job),
        jobId: job.jobId,
        jobStatus: 'in_progress',
        createdTime: job.createdTime,
        retriedFrom: job.retryOf?.jobId ?? null,
      }),
    );
  }

  /** The job a key already started, if any; the same key with a different request is a conflict. */
  private async replay(job: StartJobRequest): Promise<SubmittedJob | undefined> {
    const fingerprint = await this.deps.jobs.startedWith(job.jobId);
    if (fingerprint === undefined) return undefined;
    if (fingerprint !== job.fingerprint) throw new IdempotencyConflictError(job.jobId);
    return { jobId: job.jobId, replayed: true };
  }
}
