import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import type { CallbackUrlPolicy } from '../../callbacks/callback-url-policy';
import type { JobSubmission, SubmittedJob } from '../../jobs/job-submission';
import { renderSubtitles } from '../../jobs/subtitles';
import type { TranscriptResult } from '../../jobs/transcript-result';
import type { JobCatalog } from '../../jobs/job-catalog';
import { JobNotFoundError } from '../../jobs/transcription-jobs';
import type { ApiState } from '../api-state';
import { actingUserId, mayRead, type Caller } from '../caller';
import { HttpError, invalidRequest } from '../http-error';
import { readJsonBody } from '../read-json-body';
import {
  JOB_ID_PATTERN,
  getJobSchema,
  idempotencyKeySchema,
  parseRequest,
  retryJobSchema,
  searchJobsSchema,
  submitJobSchema,
} from '../request-schemas';

export interface JobRouteDependencies {
  jobs: Pick<JobCatalog, 'readableBy' | 'get' | 'search' | 'delete' | 'waitForEnd' | 'cancel'>;
  submission: Pick<JobSubmission, 'submit' | 'retry'>;
  callbackPolicy: Pick<CallbackUrlPolicy, 'refusal'>;
  limits: { maxChunksPerJob: number; maxBodyBytes: number };
}

type JobContext = ParameterizedContext<ApiState>;

/**
 * The job routes: submit, search, read (with long-poll and transcript formats), retry and cancel. Each parses its
 * request, asks the jobs domain, and writes the answer; the decisions are the domain's.
 */
export function registerJobRoutes(router: Router<ApiState>, deps: JobRouteDependencies): void {
  const submitSchema = submitJobSchema(deps.limits.maxChunksPerJob);
  const readable = readableJob(deps.jobs);
  const callbackUrlOf = allowedCallbackUrl(deps.callbackPolicy);

  router.post('/transcribe', async (ctx) => {
    const idempotencyKey = idempotencyKeyOf(ctx);
    const body = parseRequest(submitSchema, await readJsonBody(ctx, deps.limits.maxBodyBytes));
    const userId = actingUserId(ctx.state.caller, body.userId, 'submit');
    const callbackUrl = callbackUrlOf(body.callbackUrl, userId);
    const submitted = await deps.submission.submit({ ...body, userId, idempotencyKey, callbackUrl });
    answerJobStarted(ctx, submitted, { jobId: submitted.jobId });
  });

  // Registered before `/transcript/:jobId`, which would otherwise take "search" for a job id.
  router.get('/transcript/search', async (ctx) => {
    const request = parseRequest(searchJobsSchema, ctx.query);
    const userId = actingUserId(ctx.state.caller, request.userId, 'search');
    ctx.body = await deps.jobs.search({ ...request, userId });
  });

  router.get('/transcript/:jobId', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const { wait, format } = parseRequest(getJobSchema, ctx.query);
    // Checked before any waiting, so how long the answer takes says nothing about someone else's job either.
    let job = await readable(jobId, ctx.state.caller);
    if (job.jobStatus === 'in_progress' && wait) {
      await deps.jobs.waitForEnd(jobId, wait * 1000);
      job = await deps.jobs.get(jobId);
    }
    answerJob(ctx, job, format);
  });

  router.post('/transcript/:jobId/retry', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const idempotencyKey = idempotencyKeyOf(ctx);
    // The body is optional: a retry names its own callback, if it wants one.
    const hasBody = Boolean(ctx.request.length) || ctx.get('transfer-encoding') !== '';
    const body = hasBody ? parseRequest(retryJobSchema, await readJsonBody(ctx, deps.limits.maxBodyBytes)) : {};
    const failed = await readable(jobId, ctx.state.caller);
    // The new job is the failed job's owner's, so the callback must be one that owner may use.
    const callbackUrl = callbackUrlOf(body.callbackUrl, failed.userId);
    const retried = await deps.submission.retry(failed, { idempotencyKey, callbackUrl });
    ctx.state.log = ctx.state.log.child({ retryJobId: retried.jobId });
    answerJobStarted(ctx, retried, { jobId: retried.jobId, retriedFrom: jobId, reusedChunks: retried.reusedChunks });
  });

  router.delete('/transcript/:jobId', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const job = await readable(jobId, ctx.state.caller);
    if (job.jobStatus !== 'in_progress') {
      await deps.jobs.delete(job);
      ctx.status = 204;
      return;
    }
    await deps.jobs.cancel(jobId);
    ctx.status = 202;
    ctx.set('Location', jobLocation(jobId));
    ctx.body = job;
  });
}

/** The job, if the caller may see it: someone else's job is answered exactly like a missing one. */
function readableJob(jobs: Pick<JobCatalog, 'readableBy'>) {
  return (jobId: string, caller: Caller): Promise<TranscriptResult> =>
    jobs.readableBy(jobId, (owner) => mayRead(caller, owner));
}

/** The callback URL a request names, if the service may call it; otherwise a 400 naming the field. */
function allowedCallbackUrl(policy: Pick<CallbackUrlPolicy, 'refusal'>) {
  return (url: string | undefined, userId: string): string | undefined => {
    if (url === undefined) return undefined;
    const refusal = policy.refusal(url, userId);
    if (refusal) throw invalidRequest([{ field: 'callbackUrl', message: refusal }]);
    return url;
  };
}

/** The job id the path names; one that could never be a job's is answered as a missing job. */
function jobIdOf(ctx: JobContext): string {
  const { jobId } = ctx.params as { jobId: string };
  if (!JOB_ID_PATTERN.test(jobId)) throw new JobNotFoundError(jobId);
  return jobId;
}

function idempotencyKeyOf(ctx: JobContext): string | undefined {
  return parseRequest(idempotencyKeySchema, ctx.get('idempotency-key') || undefined, 'Idempotency-Key');
}

/** `202 Accepted` with where to read the job, saying so when an idempotency key answered with an earlier one. */
function answerJobStarted(ctx: JobContext, submitted: SubmittedJob, body: Record<string, unknown>): void {
  ctx.status = 202;
  ctx.set('Location', jobLocation(submitted.jobId));
  if (submitted.replayed) ctx.set('Idempotent-Replayed', 'true');
  ctx.body = body;
}

/** The job as JSON, or, once completed, its transcript as text or subtitles. */
function answerJob(ctx: JobContext, job: TranscriptResult, format: 'json' | 'txt' | 'srt' | 'vtt' | undefined): void {
  if (format === undefined || format === 'json') {
    ctx.body = job;
    return;
  }
  if (job.jobStatus !== 'completed') {
    throw new HttpError(409, 'job_not_completed', `the job has no transcript: it is ${job.jobStatus}`, {
      jobId: job.jobId,
    });
  }
  if (format === 'txt') {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${job.transcription ?? ''}\n`;
    return;
  }
  ctx.type = format === 'srt' ? 'application/x-subrip; charset=utf-8' : 'text/vtt; charset=utf-8';
  ctx.body = renderSubtitles(job.chunks, format);
}

function jobLocation(jobId: string): string {
  return `/transcript/${encodeURIComponent(jobId)}`;
}
