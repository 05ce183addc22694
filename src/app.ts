import Router from '@koa/router';
import { isGrpcServiceError } from '@temporalio/client';
import Koa, { type Context, type Next } from 'koa';
import {
  IdempotencyConflictError,
  InvalidPageTokenError,
  JobNotFoundError,
  type TranscriptionJobs,
} from './jobs/transcription-jobs';
import { HttpError } from './http/http-error';
import { readJsonBody } from './http/read-json-body';
import {
  JOB_ID_PATTERN,
  idempotencyKeySchema,
  parseRequest,
  searchJobsSchema,
  submitJobSchema,
} from './http/request-schemas';
import type { Logger } from './logger';

export interface AppDependencies {
  jobs: Pick<TranscriptionJobs, 'submit' | 'get' | 'search' | 'checkHealth'>;
  maxChunksPerJob: number;
  logger: Logger;
  /** Runs a request's Temporal calls under one deadline, so every answer comes back in time. */
  withinDeadline: <T>(fn: () => Promise<T>) => Promise<T>;
}

const MAX_BODY_BYTES = 256 * 1024;

/** gRPC status codes that mean Temporal could not answer in time, or at all, rather than that the request is bad. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** The HTTP API. Builds the Koa app and never listens: `server.ts` does. */
export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  const submitSchema = submitJobSchema(deps.maxChunksPerJob);
  const router = new Router();

  router.post('/transcribe', async (ctx) => {
    const idempotencyKey = parseRequest(
      idempotencyKeySchema,
      ctx.get('idempotency-key') || undefined,
      'Idempotency-Key',
    );
    const body = parseRequest(submitSchema, await readJsonBody(ctx, MAX_BODY_BYTES));
    const { jobId, replayed } = await deps.jobs.submit({ ...body, idempotencyKey });
    ctx.status = 202;
    ctx.set('Location', `/transcript/${encodeURIComponent(jobId)}`);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = { jobId };
  });

  // Registered before `/transcript/:jobId`, which would otherwise take "search" for a job id.
  router.get('/transcript/search', async (ctx) => {
    const request = parseRequest(searchJobsSchema, ctx.query);
    ctx.body = await deps.jobs.search(request);
  });

  router.get('/transcript/:jobId', async (ctx) => {
    const { jobId } = ctx.params as { jobId: string };
    if (!JOB_ID_PATTERN.test(jobId)) throw new JobNotFoundError(jobId);
    ctx.body = await deps.jobs.get(jobId);
  });

  router.get('/healthz', async (ctx) => {
    await deps.jobs.checkHealth();
    ctx.body = { status: 'ok' };
  });

  app.use(logRequests(deps.logger));
  app.use(renderErrors(deps.logger));
  app.use((ctx, next) => deps.withinDeadline(next));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  app.use((ctx) => {
    throw new HttpError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
  });
  app.on('error', (err: unknown) => deps.logger.error({ err }, 'request failed'));
  return app;
}

function renderErrors(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const error = toHttpError(err);
      ctx.status = error.status;
      ctx.body = { error: { code: error.code, message: error.message, details: error.details } };
      if (error.status >= 500) {
        // The client sees only the opaque message; the real cause goes to the log.
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      }
    }
  };
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof JobNotFoundError) return new HttpError(404, 'job_not_found', err.message, { jobId: err.jobId });
  if (err instanceof IdempotencyConflictError) {
    return new HttpError(409, 'idempotency_conflict', err.message, { jobId: err.jobId });
  }
  if (err instanceof InvalidPageTokenError) {
    return new HttpError(400, 'invalid_request', err.message, [{ field: 'pageToken', message: err.message }]);
  }
  if (isGrpcServiceError(err) && [GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE].includes(Number(err.code))) {
    return new HttpError(503, 'temporal_unavailable', 'the job store did not answer in time; try again shortly');
  }
  // Koa's own errors (e.g. 405 from allowedMethods) carry a status and say whether their message is safe to show.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    return new HttpError(status, 'http_error', (err as Error).message);
  }
  return new HttpError(500, 'internal', 'internal error');
}

function logRequests(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    try {
      await next();
    } finally {
      logger.info(
        { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) },
        'request',
      );
    }
  };
}
