import type { ConnectionOptions } from 'bullmq';

/**
 * THE BULLMQ PEER: the same transcription job built the way a Node team would without Temporal, for the benchmark
 * to compare against. A parent job per transcription, one child job per chunk with the same retry policy.
 */
export const CHUNK_QUEUE = 'transcribe-chunk';
export const JOB_QUEUE = 'transcription';

export function redisConnection(url: string): ConnectionOptions {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port), maxRetriesPerRequest: null };
}

export const userJobsKey = (userId: string) => `transcription:user:${userId}:jobs`;
