import Router from '@koa/router';
import { FlowProducer, Job, Queue } from 'bullmq';
import IORedis from 'ioredis';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ulid } from 'ulid';
import { ApiKeyStore, parseApiKeyList } from '../../src/auth/api-keys';
import { BearerAuthenticator } from '../../src/auth/bearer-authenticator';
import { HttpError } from '../../src/api/http-error';
import { readJsonBody } from '../../src/api/read-json-body';
import { parseRequest, submitJobSchema } from '../../src/api/request-schemas';
import { AudioStore } from '../../src/storage/audio-store';
import { LocalAudioObjects } from '../../src/storage/local-audio-objects';
import { CHUNK_QUEUE, JOB_QUEUE, redisConnection, userJobsKey } from './queues';

/** The peer's API process: same routes and checks as ours, jobs kept in Redis by BullMQ. */
async function main(): Promise<void> {
  const env = process.env;
  const connection = redisConnection(env.REDIS_URL as string);
  const redis = new IORedis({ ...connection, maxRetriesPerRequest: null });
  const flows = new FlowProducer({ connection });
  const jobQueue = new Queue(JOB_QUEUE, { connection });
  const authenticator = new BearerAuthenticator({ apiKeys: new ApiKeyStore(parseApiKeyList(env.API_KEYS as string)) });
  // The same per-user audio spaces and checks as the service.
  const audio = new AudioStore(new LocalAudioObjects(env.AUDIO_ROOT as string), {
    layout: 'per-user',
    maxChunkBytes: 5 * 1024 * 1024,
    maxChunkSeconds: 300,
    uploadRetentionMs: 72 * 3_600_000,
    spoolDir: path.join(os.tmpdir(), 'bullmq-spool'),
  });
  const schema = submitJobSchema(24);

  const router = new Router();
  router.use(async (ctx, next) => {
    ctx.state.userId = authenticator.authenticate(ctx.get('authorization') || undefined).userId;
    await next();
  });
  router.post('/transcribe', async (ctx) => {
    const body = parseRequest(schema, await readJsonBody(ctx, 64 * 1024));
    const userId = ctx.state.userId as string;
    for (const chunk of body.audioChunkPaths) await audio.inspect(userId, chunk);
    const jobId = `job-${ulid().toLowerCase()}`;
    await flows.add({
      name: 'transcription',
      queueName: JOB_QUEUE,
      data: { userId, audioChunkPaths: body.audioChunkPaths },
      opts: { jobId, removeOnComplete: false, removeOnFail: false },
      children: body.audioChunkPaths.map((path, index) => ({
        name: 'chunk',
        queueName: CHUNK_QUEUE,
        data: { jobId, userId, index, path },
        opts: {
          jobId: `${jobId}-chunk-${index}`,
          attempts: 3,
          backoff: { type: 'exponential', delay: 1000 },
          failParentOnFailure: true,
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    });
    await redis.sadd(userJobsKey(userId), jobId);
    ctx.status = 202;
    ctx.body = { jobId };
  });
  const read = async (jobId: string) => {
    const job = await Job.fromId(jobQueue, jobId);
    if (!job) return undefined;
    const state = await job.getState();
    const status = state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : 'in_progress';
    return {
      jobId,
      userId: (job.data as { userId: string }).userId,
      jobStatus: status,
      createdTime: new Date(job.timestamp).toISOString(),
      completedTime: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      transcription: status === 'completed' ? (job.returnvalue as string) : null,
      failureReason: job.failedReason ?? null,
    };
  };
  router.get('/transcript/search', async (ctx) => {
    const ids = await redis.smembers(userJobsKey(ctx.state.userId as string));
    const jobs = await Promise.all(ids.map(read));
    ctx.body = { results: jobs.filter((job) => job?.jobStatus === ctx.query.jobStatus), nextPageToken: null };
  });
  router.get('/transcript/:jobId', async (ctx) => {
    const job = await read((ctx.params as { jobId: string }).jobId);
    if (!job || job.userId !== ctx.state.userId) throw new HttpError(404, 'job_not_found', 'no such job');
    ctx.body = job;
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      ctx.status = status;
      ctx.body = { error: { code: status, message: (err as Error).message } };
    }
  });
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
