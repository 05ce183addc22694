import Router from '@koa/router';
import { isGrpcServiceError } from '@temporalio/client';
import Koa, { type Context, type Middleware, type Next, type ParameterizedContext } from 'koa';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AuthenticationError, wwwAuthenticate } from './auth/auth-errors';
import type { Principal } from './auth/principal';
import { actingUserId, mayRead, type Caller } from './http/caller';
import type { CallbackUrlPolicy } from './callbacks/callback-url-policy';
import { HttpError, invalidRequest, type FieldProblem } from './http/http-error';
import type { ApiMetrics } from './http/api-metrics';
import { createDocsRouter } from './http/docs-routes';
import { buildOpenApiDocument } from './http/openapi';
import type { RateLimiter } from './http/rate-limiter';
import { readJsonBody } from './http/read-json-body';
import {
  JOB_ID_PATTERN,
  getJobSchema,
  idempotencyKeySchema,
  parseRequest,
  retryJobSchema,
  searchJobsSchema,
  submitJobSchema,
} from './http/request-schemas';
import { AsrBacklogFullError, TooManyJobsInFlightError, type JobAdmission } from './jobs/job-admission';
import { renderSubtitles } from './jobs/subtitles';
import type { TranscriptResult } from './jobs/transcript-result';
import {
  IdempotencyConflictError,
  InvalidPageTokenError,
  JobNotFoundError,
  type TranscriptionJobs,
} from './jobs/transcription-jobs';
import type { Logger } from './logger';
import { mapConcurrently } from './map-concurrently';
import { AudioFileError, type AudioFileProblem, type AudioStore } from './storage/audio-store';

export interface AppDependencies {
  jobs: Pick<TranscriptionJobs, 'submit' | 'get' | 'search' | 'checkHealth' | 'waitForEnd' | 'cancel'>;
  admission: Pick<JobAdmission, 'admit'>;
  audio: Pick<AudioStore, 'inspect'>;
  /** Proves who is calling from the `Authorization` header; absent only when authentication is off. */
  authenticate: ((authorization: string | undefined) => Principal) | undefined;
  rateLimiter: Pick<RateLimiter, 'take'>;
  /** The codec endpoint for the Web UI, when payloads are encrypted. */
  codec?: { router: Router; payloadsSchema: z.ZodType };
  limits: { maxChunksPerJob: number; maxBodyBytes: number };
  /** Which callback URLs jobs may name. */
  callbackPolicy: Pick<CallbackUrlPolicy, 'refusal'>;
  logger: Logger;
  /**
   * Runs a request's Temporal calls under one deadline, so every answer comes back in time; a long-poll's wait
   * (`extraMs`) comes on top.
   */
  withinDeadline: <T>(fn: () => Promise<T>, extraMs: number) => Promise<T>;
  /** A request not answered by then gets a 503 at once, whatever it is still waiting for. Default 13 s. */
  answerWithinMs?: number;
  /** Counts and times requests, and serves them at `GET /metrics` to operators. */
  metrics: ApiMetrics;
}

interface State {
  caller: Caller;
  /** This request's id: the client's `X-Request-Id` if it sent a sane one, otherwise a fresh UUID. */
  requestId: string;
  /** The logger for this request: every line carries its request id. */
  log: Logger;
}

/** A client's request id is kept if it is short and plain, so it cannot forge log lines or bloat them. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

const MAX_URL_LENGTH = 2048;
/** Every answer within 15 s, measured by the client: 13 s here leaves room for queues on both sides. */
const ANSWER_WITHIN_MS = 13_000;
const INSPECT_CONCURRENCY = 8;

/** gRPC status codes that mean Temporal could not answer in time, or at all, rather than that the request is bad. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** The HTTP API. Builds the Koa app and never listens: `server.ts` does. */
export function createApp(deps: AppDependencies): Koa<State> {
  const app = new Koa<State>();
  const submitSchema = submitJobSchema(deps.limits.maxChunksPerJob);
  const openApi = JSON.stringify(
    buildOpenApiDocument({ maxChunksPerJob: deps.limits.maxChunksPerJob, codecPayloads: deps.codec?.payloadsSchema }),
  );

  const publicRoutes = new Router();
  publicRoutes.get('/healthz', async (ctx) => {
    await deps.jobs.checkHealth();
    ctx.body = { status: 'ok' };
  });
  publicRoutes.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApi;
  });

  const authenticate = authenticateCaller(deps.authenticate);
  const jobRoutes = new Router<State>();
  jobRoutes.use(authenticate, limitRate(deps.rateLimiter));

  jobRoutes.post('/transcribe', async (ctx) => {
    const idempotencyKey = parseRequest(
      idempotencyKeySchema,
      ctx.get('idempotency-key') || undefined,
      'Idempotency-Key',
    );
    const body = parseRequest(submitSchema, await readJsonBody(ctx, deps.limits.maxBodyBytes));
    const userId = actingUserId(ctx.state.caller, body.userId, 'submit');
    const callbackUrl = allowedCallbackUrl(body.callbackUrl);
    const { jobId, replayed } = await deps.jobs.submit({
      userId,
      audioChunkPaths: body.audioChunkPaths,
      idempotencyKey,
      callbackUrl,
      // Only a job that will really start is checked and counted: a repeat returns the job it started.
      beforeStart: async () => {
        await inspectChunks(deps.audio, body.audioChunkPaths);
        await deps.admission.admit(userId);
      },
    });
    ctx.status = 202;
    ctx.set('Location', `/transcript/${encodeURIComponent(jobId)}`);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = { jobId };
  });

  // Registered before `/transcript/:jobId`, which would otherwise take "search" for a job id.
  jobRoutes.get('/transcript/search', async (ctx) => {
    const request = parseRequest(searchJobsSchema, ctx.query);
    const userId = actingUserId(ctx.state.caller, request.userId, 'search');
    ctx.body = await deps.jobs.search({ ...request, userId });
  });

  /** The callback URL a request names, if the service may call it; otherwise a 400 naming the field. */
  const allowedCallbackUrl = (url: string | undefined): string | undefined => {
    if (url === undefined) return undefined;
    const refusal = deps.callbackPolicy.refusal(url);
    if (refusal) throw invalidRequest([{ field: 'callbackUrl', message: refusal }]);
    return url;
  };

  /** The job id the path names; one that could never be a job's is answered as a missing job. */
  const jobIdOf = (ctx: ParameterizedContext<State>): string => {
    const { jobId } = ctx.params as { jobId: string };
    if (!JOB_ID_PATTERN.test(jobId)) throw new JobNotFoundError(jobId);
    return jobId;
  };
  /** The job, if the caller may see it. */
  const readableJob = async (jobId: string, caller: Caller): Promise<TranscriptResult> => {
    const job = await deps.jobs.get(jobId);
    // Someone else's job is answered exactly like a missing one: its existence is not the caller's business.
    if (!mayRead(caller, job.userId)) throw new JobNotFoundError(jobId);
    return job;
  };

  jobRoutes.get('/transcript/:jobId', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const { wait, format } = parseRequest(getJobSchema, ctx.query);
    // Checked before any waiting, so how long the answer takes says nothing about someone else's job either.
    let job = await readableJob(jobId, ctx.state.caller);
    if (job.jobStatus === 'in_progress' && wait) {
      await deps.jobs.waitForEnd(jobId, wait * 1000);
      job = await deps.jobs.get(jobId);
    }
    if (format === undefined || format === 'json') {
      ctx.body = job;
      return;
    }
    if (job.jobStatus !== 'completed') {
      throw new HttpError(409, 'job_not_completed', `the job has no transcript: it is ${job.jobStatus}`, { jobId });
    }
    if (format === 'txt') {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `${job.transcription ?? ''}\n`;
      return;
    }
    ctx.type = format === 'srt' ? 'application/x-subrip; charset=utf-8' : 'text/vtt; charset=utf-8';
    ctx.body = renderSubtitles(job.chunks, format);
  });

  jobRoutes.post('/transcript/:jobId/retry', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const idempotencyKey = parseRequest(
      idempotencyKeySchema,
      ctx.get('idempotency-key') || undefined,
      'Idempotency-Key',
    );
    // The body is optional: a retry names its own callback, if it wants one.
    const hasBody = Boolean(ctx.request.length) || ctx.get('transfer-encoding') !== '';
    const body = hasBody ? parseRequest(retryJobSchema, await readJsonBody(ctx, deps.limits.maxBodyBytes)) : {};
    const callbackUrl = allowedCallbackUrl(body.callbackUrl);
    const failed = await readableJob(jobId, ctx.state.caller);
    if (failed.jobStatus !== 'failed') {
      throw new HttpError(409, 'job_not_failed', `only a failed job can be retried; this one is ${failed.jobStatus}`, {
        jobId,
      });
    }
    const chunks = [...failed.chunks].sort((a, b) => a.index - b.index);
    const completedChunks = chunks.flatMap((chunk) =>
      chunk.status === 'completed' && chunk.transcript !== null
        ? [
            {
              index: chunk.index,
              transcript: chunk.transcript,
              segments: chunk.segments,
              durationSeconds: chunk.durationSeconds,
              attempts: chunk.attempts,
            },
          ]
        : [],
    );
    const reused = new Set(completedChunks.map((chunk) => chunk.index));
    const { jobId: newJobId, replayed } = await deps.jobs.submit({
      userId: failed.userId,
      audioChunkPaths: chunks.map((chunk) => chunk.path),
      idempotencyKey,
      retryOf: { jobId, completedChunks },
      callbackUrl,
      beforeStart: async () => {
        await inspectChunks(
          deps.audio,
          chunks.filter((chunk) => !reused.has(chunk.index)).map((chunk) => chunk.path),
        );
        await deps.admission.admit(failed.userId);
      },
    });
    ctx.state.log = ctx.state.log.child({ retryJobId: newJobId });
    ctx.status = 202;
    ctx.set('Location', `/transcript/${encodeURIComponent(newJobId)}`);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = { jobId: newJobId, retriedFrom: jobId, reusedChunks: completedChunks.length };
  });

  jobRoutes.get('/metrics', async (ctx) => {
    const { caller } = ctx.state;
    if (caller.authenticated && caller.principal.role !== 'operator') {
      throw new HttpError(403, 'forbidden', 'only operators may read the metrics');
    }
    const { contentType, body } = await deps.metrics.render();
    ctx.type = contentType;
    ctx.body = body;
  });

  jobRoutes.delete('/transcript/:jobId', async (ctx) => {
    const jobId = jobIdOf(ctx);
    const job = await readableJob(jobId, ctx.state.caller);
    if (job.jobStatus !== 'in_progress') {
      throw new HttpError(409, 'job_finished', `the job has already finished (${job.jobStatus})`, { jobId });
    }
    await deps.jobs.cancel(jobId);
    ctx.status = 202;
    ctx.set('Location', `/transcript/${encodeURIComponent(jobId)}`);
    ctx.body = job;
  });

  app.use(deps.metrics.middleware());
  app.use(assignRequestId(deps.logger));
  app.use(logRequests);
  app.use(renderErrors);
  app.use(describeUnrouted);
  app.use(searchIsNotAJob);
  app.use(rejectOversizedUrls);
  app.use(answerInTime(deps.answerWithinMs ?? ANSWER_WITHIN_MS, deps.withinDeadline));
  for (const router of [publicRoutes, createDocsRouter(), deps.codec?.router, jobRoutes]) {
    if (!router) continue;
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.on('error', (err: unknown) => deps.logger.error({ err }, 'request failed'));
  return app;
}

/**
 * Runs the request under the Temporal deadline and, as a backstop for everything else that can be slow under load
 * (the codec, a history fallback after a timed-out query), answers 503 when the time is up.
 */
function answerInTime(budgetMs: number, withinDeadline: AppDependencies['withinDeadline']): Middleware<State> {
  return async (ctx, next) => {
    // A long-poll asked to be held that long; the budget for answering starts after it.
    const waitMs = requestedWaitMs(ctx);
    const ms = budgetMs + waitMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(503, 'timeout', 'the answer took too long; try again shortly', null, { 'Retry-After': '2' }),
          ),
        ms,
      );
    });
    const work = withinDeadline(next, waitMs);
    // Once the 503 is out, whatever the abandoned work ends with has no one left to hear it.
    work.catch(() => undefined);
    try {
      await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The `wait` a job read asks for, if it is a valid one (the route itself rejects an invalid one). */
function requestedWaitMs(ctx: Context): number {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/transcript/')) return 0;
  const parsed = getJobSchema.safeParse({ wait: ctx.query.wait });
  return parsed.success ? (parsed.data.wait ?? 0) * 1000 : 0;
}

function authenticateCaller(authenticate: AppDependencies['authenticate']): Middleware<State> {
  return async (ctx, next) => {
    ctx.state.caller = authenticate
      ? { authenticated: true, principal: authenticate(ctx.get('authorization') || undefined) }
      : { authenticated: false };
    await next();
  };
}

function limitRate(rateLimiter: Pick<RateLimiter, 'take'>): Middleware<State> {
  return async (ctx, next) => {
    const { caller } = ctx.state;
    const decision = rateLimiter.take(caller.authenticated ? `user:${caller.principal.userId}` : `ip:${ctx.ip}`);
    if (!decision.allowed) {
      throw new HttpError(429, 'rate_limited', 'too many requests; slow down', null, {
        'Retry-After': String(Math.ceil(decision.retryAfterMs / 1000)),
      });
    }
    await next();
  };
}

/**
 * `/transcript/search` also matches `/transcript/:jobId`, so the router would offer the job's methods (DELETE) on
 * it and route them to a job named "search". It is only ever read.
 */
async function searchIsNotAJob(ctx: Context, next: Next): Promise<void> {
  if (ctx.path !== '/transcript/search' || ctx.method === 'GET' || ctx.method === 'HEAD') {
    await next();
    return;
  }
  ctx.set('Allow', 'HEAD, GET');
  if (ctx.method === 'OPTIONS') {
    ctx.status = 200;
    ctx.body = '';
    return;
  }
  ctx.status = 405;
}

/**
 * Gives the answers no route wrote (404 for an unknown path, the router's 405 with its `Allow` header) the same
 * JSON error body as every other error.
 */
async function describeUnrouted(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.body !== undefined && ctx.body !== null) return;
  if (ctx.status === 404) {
    ctx.body = { error: { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}`, details: null } };
    ctx.status = 404;
  } else if (ctx.status === 405 || ctx.status === 501) {
    // The router answers 501 to methods it has no handler for anywhere (TRACE, say); for a path that exists, the
    // client's mistake is the method, which is a 405 with the methods that are allowed.
    const allowed = ctx.response.get('Allow');
    ctx.body = {
      error: {
        code: 'method_not_allowed',
        message: `${ctx.method} is not allowed here; allowed: ${allowed}`,
        details: null,
      },
    };
    ctx.status = 405;
  }
}

async function rejectOversizedUrls(ctx: Context, next: Next): Promise<void> {
  if (ctx.url.length > MAX_URL_LENGTH) {
    throw new HttpError(414, 'uri_too_long', `the request URL is longer than ${MAX_URL_LENGTH} characters`);
  }
  await next();
}

/** Status of a submission whose files fail, by the first problem found: size 413, format 415, the rest 400. */
const STATUS_BY_PROBLEM: Partial<Record<AudioFileProblem, number>> = { too_large: 413, unsupported_format: 415 };
const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_audio',
  413: 'audio_too_large',
  415: 'unsupported_audio',
};

async function inspectChunks(audio: Pick<AudioStore, 'inspect'>, paths: string[]): Promise<void> {
  const problems = await mapConcurrently(
    paths.map((path, index) => ({ path, index })),
    INSPECT_CONCURRENCY,
    async ({ path, index }): Promise<(FieldProblem & { problem: AudioFileProblem }) | undefined> => {
      try {
        await audio.inspect(path);
        return undefined;
      } catch (err) {
        if (!(err instanceof AudioFileError)) throw err;
        return { field: `audioChunkPaths[${index}]`, message: err.message, problem: err.problem };
      }
    },
  );
  const found = problems.filter((problem) => problem !== undefined);
  const first = found[0];
  if (!first) return;
  const status = STATUS_BY_PROBLEM[first.problem] ?? 400;
  const details = found.map(({ field, message }) => ({ field, message }));
  throw new HttpError(
    status,
    CODE_BY_STATUS[status] ?? 'invalid_audio',
    `audio rejected: ${details[0]?.message}`,
    details,
  );
}

async function renderErrors(ctx: ParameterizedContext<State>, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const error = toHttpError(err);
    ctx.status = error.status;
    ctx.set(error.headers);
    ctx.body = { error: { code: error.code, message: error.message, details: error.details } };
    if (error.status >= 500 && !(err instanceof AsrBacklogFullError)) {
      // The client sees only the opaque message; the real cause goes to the log, under the request's id.
      ctx.state.log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
    }
  }
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof AuthenticationError) {
    return new HttpError(401, 'unauthenticated', err.message, null, { 'WWW-Authenticate': wwwAuthenticate(err) });
  }
  if (err instanceof JobNotFoundError) return new HttpError(404, 'job_not_found', err.message, { jobId: err.jobId });
  if (err instanceof IdempotencyConflictError) {
    return new HttpError(409, 'idempotency_conflict', err.message, { jobId: err.jobId });
  }
  if (err instanceof InvalidPageTokenError) {
    return new HttpError(400, 'invalid_request', err.message, [{ field: 'pageToken', message: err.message }]);
  }
  if (err instanceof TooManyJobsInFlightError) {
    return new HttpError(429, 'too_many_jobs', err.message, { limit: err.limit }, retryAfter(err.retryAfterSeconds));
  }
  if (err instanceof AsrBacklogFullError) {
    return new HttpError(503, 'backlog_full', err.message, null, retryAfter(err.retryAfterSeconds));
  }
  if (isGrpcServiceError(err) && [GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE].includes(Number(err.code))) {
    return new HttpError(
      503,
      'temporal_unavailable',
      'the job store did not answer in time; try again shortly',
      null,
      retryAfter(2),
    );
  }
  // Koa's own errors (e.g. 405 from allowedMethods) carry a status and say whether their message is safe to show.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    const headers = (err as { headers?: Record<string, string> }).headers ?? {};
    return new HttpError(status, 'http_error', (err as Error).message, null, headers);
  }
  return new HttpError(500, 'internal', 'internal error');
}

function retryAfter(seconds: number): Record<string, string> {
  return { 'Retry-After': String(seconds) };
}

function assignRequestId(logger: Logger): Middleware<State> {
  return async (ctx, next) => {
    const sent = ctx.get('x-request-id');
    const requestId = REQUEST_ID_PATTERN.test(sent) ? sent : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    await next();
  };
}

async function logRequests(ctx: ParameterizedContext<State>, next: Next): Promise<void> {
  const started = performance.now();
  try {
    await next();
  } finally {
    // The job a request was about, whether named in its path or just started by it.
    const jobId = (ctx.params as Record<string, string> | undefined)?.jobId ?? jobIdOfBody(ctx.body);
    ctx.state.log.info(
      { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), jobId },
      'request',
    );
  }
}

function jobIdOfBody(body: unknown): string | undefined {
  const jobId = (body as { jobId?: unknown } | null | undefined)?.jobId;
  return typeof jobId === 'string' ? jobId : undefined;
}
