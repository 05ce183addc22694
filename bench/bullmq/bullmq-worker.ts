import { Queue, Worker, type Job } from 'bullmq';
import os from 'node:os';
import path from 'node:path';
import { AsrClient } from '../../src/asr/asr-client';
import { AudioStore } from '../../src/storage/audio-store';
import { LocalAudioObjects } from '../../src/storage/local-audio-objects';
import { CHUNK_QUEUE, JOB_QUEUE, redisConnection } from './queues';

/** The peer's worker process: transcribes chunk jobs, and stitches a parent job once all its chunks are done. */
async function main(): Promise<void> {
  const env = process.env;
  const connection = redisConnection(env.REDIS_URL as string);
  const asr = new AsrClient({
    url: env.ASR_URL as string,
    model: 'whisper-1',
    timeoutMs: 60_000,
    responseFormat: 'json',
  });
  // The same per-user audio spaces and checks as the service.
  const audio = new AudioStore(new LocalAudioObjects(env.AUDIO_ROOT as string), {
    layout: 'per-user',
    maxChunkBytes: 5 * 1024 * 1024,
    maxChunkSeconds: 300,
    uploadRetentionMs: 72 * 3_600_000,
    spoolDir: path.join(os.tmpdir(), 'bullmq-spool'),
  });
  // BullMQ's own fleet-wide limit: a counter in Redis that every worker of the queue respects.
  const chunkQueue = new Queue(CHUNK_QUEUE, { connection });
  await chunkQueue.setGlobalConcurrency(Number(env.ASR_MAX_CONCURRENT_CALLS ?? 1000));
  await chunkQueue.close();
  const chunks = new Worker(
    CHUNK_QUEUE,
    async (job: Job<{ userId: string; path: string }>) => {
      const chunk = await audio.open(job.data.userId, job.data.path);
      try {
        return (await asr.transcribe(chunk)).text;
      } finally {
        await chunk.close();
      }
    },
    { connection, concurrency: Number(env.WORKER_MAX_CONCURRENT_ACTIVITIES ?? 1000) },
  );
  const parents = new Worker(
    JOB_QUEUE,
    async (job: Job<{ audioChunkPaths: string[] }>) => {
      const values = await job.getChildrenValues<string>();
      const byIndex = new Map(
        Object.entries(values).map(([key, text]) => [Number(/-chunk-(\d+)$/.exec(key)?.[1]), text]),
      );
      return job.data.audioChunkPaths
        .map((_, index) => byIndex.get(index) ?? '')
        .filter((text) => text.trim() !== '')
        .join(' ');
    },
    { connection, concurrency: 50 },
  );
  await Promise.all([chunks.waitUntilReady(), parents.waitUntilReady()]);
  process.send?.({ type: 'ready' });
  process.once('SIGTERM', () => {
    void Promise.all([chunks.close(), parents.close()]).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
