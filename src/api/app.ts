import Router from '@koa/router';
import Koa from 'koa';
import type { z } from 'zod';
import type { Principal } from '../auth/principal';
import type { CallbackUrlPolicy } from '../callbacks/callback-url-policy';
import type { JobSubmission } from '../jobs/job-submission';
import type { JobCatalog } from '../jobs/job-catalog';
import type { Logger } from '../logger';
import type { AudioStore } from '../storage/audio-store';
import type { ApiMetrics } from './api-metrics';
import type { ApiState } from './api-state';
import { ANSWER_WITHIN_MS } from './deadlines';
import { HealthCheck } from './health-check';
import {
  answerInTime,
  assignRequestId,
  authenticateCaller,
  describeUnrouted,
  limitRate,
  limitUnauthenticatedByAddress,
  logRequests,
  onlyMethods,
  rejectOversizedUrls,
  renderErrors,
  type WithinDeadline,
} from './middleware';
import { buildOpenApiDocument } from './openapi';
import type { RateLimiter } from './rate-limiter';
import { registerAudioRoutes } from './routes/audio-routes';
import { registerCallbackRoutes } from './routes/callback-routes';
import { createDocsRouter } from './routes/docs-routes';
import { registerJobRoutes } from './routes/job-routes';
import { createPublicRouter, registerMetricsRoute } from './routes/service-routes';

/** How long one health check answers `/healthz`: load balancers poll every few seconds, often many at once. */
const HEALTH_MAX_AGE_MS = 2000;

export interface AppDependencies {
  jobs: Pick<JobCatalog, 'readableBy' | 'get' | 'search' | 'delete' | 'healthChecks' | 'waitForEnd' | 'cancel'>;
  submission: Pick<JobSubmission, 'submit' | 'retry'>;
  audio: Pick<AudioStore, 'upload' | 'presignUpload' | 'list' | 'details' | 'remove'>;
  /** Proves who is calling from the `Authorization` header; absent only when authentication is off. */
  authenticate: ((authorization: string | undefined) => Principal) | undefined;
  /** Each user's requests, shared by the fleet. */
  rateLimiter: Pick<RateLimiter, 'take'>;
  /** Each client address's requests that prove no one, before authentication. */
  addressRateLimiter: RateLimiter;
  /** The codec endpoint for the Web UI, when payloads are encrypted. */
  codec?: { router: Router; payloadsSchema: z.ZodType };
  limits: { maxChunksPerJob: number; maxBodyBytes: number; maxChunkBytes: number };
  /** Which callback URLs jobs may name. */
  callbackPolicy: Pick<CallbackUrlPolicy, 'refusal'>;
  logger: Logger;
  /**
   * Whether a proxy in front says who the client is and whether it came over TLS (X-Forwarded-For and -Proto):
   * only when every request comes through that proxy, or clients could claim any address.
   */
  trustProxy?: boolean;
  /**
   * Runs a request's Temporal calls under one deadline, so every answer comes back in time; a long-poll's wait
   * (`extraMs`) comes on top.
   */
  withinDeadline: WithinDeadline;
  /** A request not answered by then gets a 503 at once, whatever it is still waiting for. */
  answerWithinMs?: number;
  /** Counts and times requests, and serves them at `GET /metrics` to operators. */
  metrics: ApiMetrics;
}

/** The HTTP API: the middleware every request goes through, then the routers. Never listens: `main.ts` does. */
export function createApp(deps: AppDependencies): Koa<ApiState> {
  const app = new Koa<ApiState>({ proxy: deps.trustProxy ?? false });
  app.use(deps.metrics.middleware());
  app.use(assignRequestId(deps.logger));
  app.use(logRequests);
  app.use(renderErrors);
  app.use(describeUnrouted);
  app.use(onlyMethods('/transcript/search', ['HEAD', 'GET']));
  app.use(onlyMethods('/audio/uploads', ['POST']));
  app.use(rejectOversizedUrls);
  app.use(limitUnauthenticatedByAddress(deps.addressRateLimiter));
  app.use(answerInTime(deps.answerWithinMs ?? ANSWER_WITHIN_MS, deps.withinDeadline));
  for (const router of routers(deps)) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.on('error', (err: unknown) => deps.logger.error({ err }, 'request failed'));
  return app;
}

/** The public routes, the docs, the codec endpoint, then everything that needs credentials. */
function routers(deps: AppDependencies): Router<ApiState>[] {
  const openApiJson = JSON.stringify(
    buildOpenApiDocument({
      maxChunksPerJob: deps.limits.maxChunksPerJob,
      maxChunkBytes: deps.limits.maxChunkBytes,
      codecPayloads: deps.codec?.payloadsSchema,
    }),
  );
  const authenticated = new Router<ApiState>();
  authenticated.use(authenticateCaller(deps.authenticate), limitRate(deps.rateLimiter));
  registerAudioRoutes(authenticated, { audio: deps.audio, ...deps.limits });
  registerJobRoutes(authenticated, deps);
  registerCallbackRoutes(authenticated, deps);
  registerMetricsRoute(authenticated, deps.metrics);
  const health = new HealthCheck({ parts: deps.jobs.healthChecks(), maxAgeMs: HEALTH_MAX_AGE_MS, timeoutMs: 3000 });
  const publicRouter = createPublicRouter({ health: () => health.report(), openApiJson });
  return [publicRouter, createDocsRouter(), deps.codec?.router, authenticated].filter(
    (router): router is Router<ApiState> => router !== undefined,
  );
}
