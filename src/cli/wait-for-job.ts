import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, ApiUnreachableError, type TranscriptionApiClient, type TranscriptResult } from './api-client';

/**
 * Each poll long-polls for a second: the API holds the answer while the job runs, so the progress refreshes about
 * once a second, and answers the moment the job ends, so the wait ends without a poll's delay.
 */
const POLL_SECONDS = 1;
/** A busy or restarting API (429, 502-504, no answer) is asked again for this long before the wait gives up. */
const TRANSIENT_FAILURES_TOLERATED_MS = 30_000;
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);
/** A `Retry-After` is honoured up to this, so a long one cannot outlast the tolerance above unnoticed. */
const LONGEST_RETRY_AFTER_MS = 10_000;

export interface WaitOptions {
  /** Called with the job after every answer, the first one before any waiting. */
  onUpdate: (job: TranscriptResult) => void;
  sleep?: (ms: number) => Promise<unknown>;
  now?: () => number;
}

/** Follows a job until it completes or fails, and returns it as it ended. */
export async function waitForJob(
  client: Pick<TranscriptionApiClient, 'getJob'>,
  jobId: string,
  options: WaitOptions,
): Promise<TranscriptResult> {
  const pause = options.sleep ?? sleep;
  const now = options.now ?? Date.now;
  let job = await client.getJob(jobId);
  options.onUpdate(job);
  let failingSince: number | undefined;
  while (job.jobStatus === 'in_progress') {
    const started = now();
    let delayMs = POLL_SECONDS * 1000;
    try {
      job = await client.getJob(jobId, { wait: POLL_SECONDS });
      failingSince = undefined;
      options.onUpdate(job);
    } catch (err) {
      if (!isTransient(err)) throw err;
      failingSince ??= started;
      if (now() - failingSince > TRANSIENT_FAILURES_TOLERATED_MS) throw err;
      if (err instanceof ApiError && err.retryAfterSeconds !== undefined) {
        delayMs = Math.min(Math.max(delayMs, err.retryAfterSeconds * 1000), LONGEST_RETRY_AFTER_MS);
      }
    }
    const remainingMs = delayMs - (now() - started);
    if (job.jobStatus === 'in_progress' && remainingMs > 0) await pause(remainingMs);
  }
  return job;
}

function isTransient(err: unknown): boolean {
  return err instanceof ApiUnreachableError || (err instanceof ApiError && TRANSIENT_STATUSES.has(err.status));
}
