import type { Client } from '@temporalio/client';
import { createServer, type Server } from 'node:http';
import { createAuthenticator } from '../auth/create-authenticator';
import { CallbackUrlPolicy } from '../callbacks/callback-url-policy';
import { loadPayloadCodec } from '../codec/load-payload-codec';
import type { Config } from '../config/config';
import { openJobsDatabase } from '../jobs-database/open-jobs-database';
import { JobAdmission } from '../jobs/job-admission';
import { JobCatalog } from '../jobs/job-catalog';
import { JobSubmission } from '../jobs/job-submission';
import type { Logger } from '../logger';
import { createAudioStore } from '../storage/create-audio-store';
import { TemporalAdmissionSignals } from '../temporal/admission-signals';
import { connectJobs } from '../temporal/connect-jobs';
import { ApiMetrics } from './api-metrics';
import { createApp } from './app';
import { CodecSessions } from './codec-sessions';
import { TEMPORAL_BUDGET_MS, UPLOAD_WITHIN_MS } from './deadlines';
import { FleetRateLimiter, ProcessRateLimiter, type RatePolicy } from './rate-limiter';
import { createCodecRouter, codecPayloadsSchema } from './routes/codec-routes';
import { continueUnlessTooLarge } from './upload-body';

/**
 * The API's parts, each built once from the configuration: credentials, the payload codec, the jobs on Temporal,
 * the jobs database, the users' audio, admission and the limits. Returns an HTTP server that is not listening yet.
 */
export async function createApiServer(
  config: Config,
  logger: Logger,
): Promise<{ server: Server; client: Client; close: () => Promise<void> }> {
  const authenticator = await createAuthenticator(config);
  const authenticate = authenticator && ((header: string | undefined) => authenticator.authenticate(header));
  if (!authenticate) {
    logger.warn(
      { host: config.api.host },
      'AUTHENTICATION IS OFF (AUTH_METHODS=none): anyone who can reach this loopback address can read every job',
    );
  }
  const codec = await loadPayloadCodec(config, logger);
  const { client, jobs } = await connectJobs(config, codec);
  const {
    database: records,
    pageTokens,
    sessionRevocations,
    rateLimitBuckets,
  } = await openJobsDatabase(config.jobsDatabase, codec);
  const fleetLimiter = (policy: RatePolicy) =>
    new FleetRateLimiter(rateLimitBuckets, policy, new ProcessRateLimiter(policy), logger);
  const audio = createAudioStore(config.audio);
  const temporalSignals = new TemporalAdmissionSignals(client, config.temporal.taskQueue);
  const admission = new JobAdmission(
    {
      jobsInFlightByUser: () => temporalSignals.jobsInFlightByUser(),
      chunkBacklog: () => temporalSignals.chunkBacklog(),
      chunksInFlightByUser: () => records.chunksInFlightByUser(),
    },
    { jobsInFlightPerUser: config.limits.jobsInFlightPerUser, asrBacklogLimit: config.limits.asrBacklog },
  );
  const catalog = new JobCatalog({ records, pageTokens, temporal: jobs });
  const app = createApp({
    jobs: catalog,
    submission: new JobSubmission({ jobs, audio, admission, records, jobIdKey: codec.deriveKey('job-id-v1') }),
    audio,
    authenticate,
    rateLimiter: fleetLimiter({ perSecond: config.limits.ratePerSecond, burst: config.limits.rateBurst }),
    addressRateLimiter: fleetLimiter({
      perSecond: config.limits.addressRatePerSecond,
      burst: config.limits.addressRateBurst,
    }),
    codec: {
      router: createCodecRouter({
        codec: codec.passingUnencrypted(),
        authenticate,
        sessions: new CodecSessions(codec.deriveKey('codec-session-v1'), {
          credentials: authenticator,
          revocations: sessionRevocations,
        }),
        allowedOrigins: config.api.codecCorsOrigins,
      }),
      payloadsSchema: codecPayloadsSchema,
    },
    limits: {
      maxChunksPerJob: config.audio.maxChunksPerJob,
      maxBodyBytes: config.api.maxBodyBytes,
      maxChunkBytes: config.audio.maxChunkBytes,
    },
    callbackPolicy: new CallbackUrlPolicy(config.callbacks.allowList, {
      signingSecret: config.callbacks.signingSecret,
    }),
    logger,
    trustProxy: config.api.trustProxy,
    metrics: new ApiMetrics(),
    withinDeadline: (fn, extraMs) => client.withDeadline(Date.now() + TEMPORAL_BUDGET_MS + extraMs, fn),
  });
  const close = async () => {
    // A check still calling Temporal when its connection closes would throw from the SDK's retry timer.
    await catalog.settle();
    await client.connection.close();
    await records.close();
  };
  return { server: listenable(app.callback(), config), client, close };
}

/** The Node HTTP server around the app, with the limits that protect its sockets. */
function listenable(handle: ReturnType<ReturnType<typeof createApp>['callback']>, config: Config): Server {
  const server = createServer(
    {
      maxHeaderSize: config.api.maxHeaderBytes,
      // A client that dribbles its headers or body holds a socket; these bound how long.
      headersTimeout: 10_000,
      // As long as an upload may take (see UPLOAD_WITHIN_MS); every other answer has its own, shorter budget.
      requestTimeout: UPLOAD_WITHIN_MS,
    },
    (req, res) => void handle(req, res),
  );
  server.on(
    'checkContinue',
    continueUnlessTooLarge(config.audio.maxChunkBytes, (req, res) => void handle(req, res)),
  );
  return server;
}
