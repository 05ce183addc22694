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

/**
 * The ASR backlog is busy and the user's running jobs already hold their share of it. Answered with 429: the
 * caller's own jobs are what stands in the way, and other users still get in.
 */
export class AsrShareUsedError extends Error {
  constructor(
    readonly share: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `the transcription backlog is busy and your running jobs hold your share of it (${share} chunks); try again shortly`,
    );
    this.name = 'AsrShareUsedError';
  }
}

export interface AdmissionSignals {
  /** The ids of the jobs in progress, by user id, as visibility knows them (a moment behind the executions). */
  jobsInFlightByUser(): Promise<Map<string, ReadonlySet<string>>>;
  /** Chunks scheduled and not yet picked up by a worker. */
  chunkBacklog(): Promise<number>;
  /** The chunks of each user's running jobs, for users that have any. */
  chunksInFlightByUser(): Promise<Map<string, number>>;
}

export interface JobAdmissionOptions {
  jobsInFlightPerUser: number;
  asrBacklogLimit: number;
  /**
   * Both signals are read at most this often and shared by every submission in between: asking the server on
   * each submission would load the very database that a burst of submissions is already waiting on.
   */
  signalCacheMs?: number;
  /** Past this age a signal is read again before answering; younger, it answers at once (default 5 s). */
  signalMaxStaleMs?: number;
  now?: () => number;
}

/** A job's wait is about one ASR call; the client should come back after roughly that long. */
const JOB_RETRY_AFTER_SECONDS = 10;
const BACKLOG_RETRY_AFTER_SECONDS = 15;
/** How far visibility may trail a job's start: jobs admitted this recently may be missing from a fresh count. */
const VISIBILITY_LAG_MS = 2000;
/**
 * Past this fraction of the ASR backlog limit, the backlog is shared: a user whose running jobs hold more than an
 * even share of the limit (the limit over the users with chunks in flight, this one included) waits, so that a few
 * heavy users can fill at most their shares and everyone else still gets in.
 */
export const BACKLOG_SHARED_ABOVE = 0.5;

/**
 * A value read from the server at most once per cache window, concurrent readers sharing one read. A value past
 * the window but younger than the staleness limit is still answered at once while a fresh read runs behind it,
 * so a burst of submissions never queues behind the server it is loading.
 */
class CachedSignal<T> {
  private value: { value: T; readStartedMs: number } | undefined;
  private reading: Promise<{ value: T; readStartedMs: number }> | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly limits: { cacheMs: number; maxStaleMs: number },
    private readonly now: () => number,
  ) {}

  async current(): Promise<{ value: T; readStartedMs: number }> {
    const age = this.value ? this.now() - this.value.readStartedMs : Infinity;
    if (this.value && age < this.limits.cacheMs) return this.value;
    const reading = this.refresh();
    if (this.value && age < this.limits.maxStaleMs) {
      // The caller already has its answer; a failed background read is retried by the next caller.
      reading.catch(() => undefined);
      return this.value;
    }
    return reading;
  }

  private refresh(): Promise<{ value: T; readStartedMs: number }> {
    const readStartedMs = this.now();
    this.reading ??= this.read()
      .then((value) => (this.value = { value, readStartedMs }))
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}

/**
 * Decides whether a new job may start: the user's jobs in flight stay under their quota, and the fleet's ASR
 * backlog stays under its limit, so a surge is refused at the door instead of queueing without bound.
 *
 * A user's jobs in flight are the jobs visibility lists as running (one fleet-wide read, refreshed at most once per
 * cache window) together with the jobs this process admitted since shortly before that read, which visibility may
 * not show yet. Both are sets of job ids, so a job in both is counted once. Another API process's admissions since
 * the read are not seen: the quota can be overshot by what the other processes admit in that time (about a second
 * under steady load, at most the staleness limit).
 */
export class JobAdmission {
  private readonly inFlight: CachedSignal<Map<string, ReadonlySet<string>>>;
  private readonly backlog: CachedSignal<number>;
  private readonly chunks: CachedSignal<Map<string, number>>;
  private readonly now: () => number;
  /** The jobs this process let in recently, by user: job id, its chunks and when. */
  private readonly admitted = new Map<string, { jobId: string; chunkCount: number; admittedMs: number }[]>();

  constructor(
    signals: AdmissionSignals,
    private readonly options: JobAdmissionOptions,
  ) {
    this.now = options.now ?? Date.now;
    const limits = { cacheMs: options.signalCacheMs ?? 1000, maxStaleMs: options.signalMaxStaleMs ?? 5000 };
    this.inFlight = new CachedSignal(() => signals.jobsInFlightByUser(), limits, this.now);
    this.backlog = new CachedSignal(() => signals.chunkBacklog(), limits, this.now);
    this.chunks = new CachedSignal(() => signals.chunksInFlightByUser(), limits, this.now);
  }

  /**
   * Resolves when the job of `chunkCount` chunks may start, and counts it against the user's quota; otherwise
   * throws why not.
   */
  async admit(userId: string, jobId: string, chunkCount: number): Promise<void> {
    const [inFlight, backlog, chunks] = await Promise.all([
      this.inFlight.current(),
      this.backlog.current(),
      this.chunks.current(),
    ]);
    const limit = this.options.asrBacklogLimit;
    if (backlog.value >= limit) throw new AsrBacklogFullError(BACKLOG_RETRY_AFTER_SECONDS);
    const unseenSince = Math.min(inFlight.readStartedMs, chunks.readStartedMs) - VISIBILITY_LAG_MS;
    const recent = (this.admitted.get(userId) ?? []).filter((admission) => admission.admittedMs >= unseenSince);
    const jobs = new Set([...(inFlight.value.get(userId) ?? []), ...recent.map((admission) => admission.jobId)]);
    if (jobs.size >= this.options.jobsInFlightPerUser) {
      throw new TooManyJobsInFlightError(this.options.jobsInFlightPerUser, JOB_RETRY_AFTER_SECONDS);
    }
    if (backlog.value >= limit * BACKLOG_SHARED_ABOVE) {
      // Recent admissions may be counted twice (read and remembered): in doubt, a heavy user waits a moment more.
      const held = (chunks.value.get(userId) ?? 0) + recent.reduce((sum, admission) => sum + admission.chunkCount, 0);
      const share = Math.ceil(limit / new Set([...chunks.value.keys(), userId]).size);
      if (held + chunkCount > share) throw new AsrShareUsedError(share, BACKLOG_RETRY_AFTER_SECONDS);
    }
    this.admitted.set(userId, [...recent, { jobId, chunkCount, admittedMs: this.now() }]);
    this.forgetOldAdmissions(unseenSince);
  }

  private forgetOldAdmissions(before: number): void {
    for (const [userId, admissions] of this.admitted) {
      if (admissions.every((admission) => admission.admittedMs < before)) this.admitted.delete(userId);
    }
  }
}
