import { CallbackUrlPolicy } from './callbacks/callback-url-policy';
import type { Client } from '@temporalio/client';
import { createServer, type Server } from 'node:http';
import { createApp } from './app';
import { createAuthenticator } from './auth/create-authenticator';
import { createCodecRouter, codecPayloadsSchema } from './http/codec-routes';
import { CodecSessions } from './http/codec-sessions';
import type { Config } from './config';
import { RateLimiter } from './http/rate-limiter';
import { ApiMetrics } from './http/api-metrics';
import { JobAdmission } from './jobs/job-admission';
import type { Logger } from './logger';
import { AudioStore } from './storage/audio-store';
import { connectJobs } from './temporal-client';
import { loadPayloadCodec } from './codec/load-payload-codec';

/** Temporal calls get this budget; the app answers 503 at 13 s whatever happens, inside the 15 s promise. */
const REQUEST_BUDGET_MS = 12_000;

/**
 * The API's parts, wired from the configuration: credentials, the payload codec, the job store on Temporal, the
 * audio checks and the limits. Returns an HTTP server that is not listening yet.
 */
export async function createApiServer(config: Config, logger: Logger): Promise<{ server: Server; client: Client }> {
  const authenticate = await createAuthenticator(config);
  if (!authenticate) {
    logger.warn(
      { host: config.api.host },
      'AUTHENTICATION IS OFF (AUTH_METHODS=none): anyone who can reach this loopback address can read every job',
    );
  }
  const codec = await loadPayloadCodec(config);
  const { client, jobs } = await connectJobs(config, codec);
  const app = createApp({
    jobs,
    admission: new JobAdmission(jobs, {
      jobsInFlightPerUser: config.limits.jobsInFlightPerUser,
      asrBacklogLimit: config.limits.asrBacklog,
    }),
    audio: new AudioStore({
      root: config.audio.root,
      maxChunkBytes: config.audio.maxChunkBytes,
      maxChunkSeconds: config.audio.maxChunkSeconds,
    }),
    authenticate,
    rateLimiter: new RateLimiter({ perSecond: config.limits.ratePerSecond, burst: config.limits.rateBurst }),
    codec: {
      router: createCodecRouter({
        codec,
        authenticate,
        sessions: new CodecSessions(codec.deriveKey('codec-session-v1')),
        allowedOrigins: config.api.codecCorsOrigins,
      }),
      payloadsSchema: codecPayloadsSchema,
    },
    limits: { maxChunksPerJob: config.audio.maxChunksPerJob, maxBodyBytes: config.api.maxBodyBytes },
    callbackPolicy: new CallbackUrlPolicy(config.callbacks.allowList),
    logger,
    metrics: new ApiMetrics(),
    withinDeadline: (fn, extraMs) => client.withDeadline(Date.now() + REQUEST_BUDGET_MS + extraMs, fn),
  });
  const handle = app.callback();
  const server = createServer(
    {
      maxHeaderSize: config.api.maxHeaderBytes,
      // A client that dribbles its headers or body holds a socket; these bound how long.
      headersTimeout: 10_000,
      requestTimeout: 30_000,
    },
    (req, res) => void handle(req, res),
  );
  return { server, client };
}
