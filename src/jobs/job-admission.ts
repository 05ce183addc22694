/** The user already has as many jobs in progress as allowed. Answered with 429. */
export class TooManyJobsInFlightError extends Error {
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`at most ${limit} jobs may be in progress at once; wait for one to finish`);
    this.name = 'TooManyJobsInFlightError';
  }
}

/** More chunks are waiting for the ASR than the service takes on. Answered with 503. */
export class AsrBacklogFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('the transcription backlog is full; try again shortly');
    this.name = 'AsrBacklogFullError';
  }
}

export interface AdmissionSignals {
  /** Jobs of this user still in progress. */
  jobsInFlight(userId: string): Promise<number>;
  /** Chunks scheduled and not yet picked up by a worker. */
  chunkBacklog(): Promise<number>;
}

export interface JobAdmissionOptions {
  jobsInFlightPerUser: number;
  asrBacklogLimit: number;
  /** The backlog is read at most this often: every submission asking would load the server it measures. */
  backlogCacheMs?: number;
  now?: () => number;
}

/** A job's wait is about one ASR call; the client should come back after roughly that long. */
const JOB_RETRY_AFTER_SECONDS = 10;
const BACKLOG_RETRY_AFTER_SECONDS = 15;

/**
 * Decides whether a new job may start: the user's jobs in flight stay under their quota, and the fleet's ASR
 * backlog stays under its limit, so a surge is refused at the door instead of queueing without bound.
 */
export class JobAdmission {
  private backlog: { value: number; readMs: number } | undefined;
  private backlogRead: Promise<number> | undefined;

  constructor(
    private readonly signals: AdmissionSignals,
    private readonly options: JobAdmissionOptions,
  ) {}

  /** Resolves when the job may start; otherwise throws why not. */
  async admit(userId: string): Promise<void> {
    const [inFlight, backlog] = await Promise.all([this.signals.jobsInFlight(userId), this.currentBacklog()]);
    if (backlog >= this.options.asrBacklogLimit) throw new AsrBacklogFullError(BACKLOG_RETRY_AFTER_SECONDS);
    if (inFlight >= this.options.jobsInFlightPerUser) {
      throw new TooManyJobsInFlightError(this.options.jobsInFlightPerUser, JOB_RETRY_AFTER_SECONDS);
    }
  }

  private async currentBacklog(): Promise<number> {
    const now = (this.options.now ?? Date.now)();
    if (this.backlog && now - this.backlog.readMs < (this.options.backlogCacheMs ?? 1000)) return this.backlog.value;
    // Concurrent submissions share one read.
    this.backlogRead ??= this.signals.chunkBacklog().finally(() => {
      this.backlogRead = undefined;
    });
    const value = await this.backlogRead;
    this.backlog = { value, readMs: now };
    return value;
  }
}
