import { createHash, createHmac } from 'node:crypto';
import { ulid } from 'ulid';

/** The same `Idempotency-Key` came back with a different request. */
export class IdempotencyConflictError extends Error {
  constructor(readonly jobId: string) {
    super('this Idempotency-Key was already used with a different request');
    this.name = 'IdempotencyConflictError';
  }
}

/** What makes two submissions "the same request" for an idempotency key. */
export interface RequestIdentity {
  userId: string;
  audioChunkPaths: readonly string[];
  retriedFrom?: string;
  callbackUrl?: string;
}

export function requestFingerprint(request: RequestIdentity): string {
  return sha256(
    JSON.stringify([request.userId, request.audioChunkPaths, request.retriedFrom ?? null, request.callbackUrl ?? null]),
  );
}

/**
 * A new job's id: derived from the user and their idempotency key, so a repeat lands on the job it started, or a
 * fresh time-ordered id without one. The derivation is keyed with a server-side secret (`jobIdKey`), so nobody can
 * compute another user's job id from a guessable idempotency key.
 */
export function newJobId(userId: string, idempotencyKey: string | undefined, jobIdKey: Buffer): string {
  if (!idempotencyKey) return `job-${ulid().toLowerCase()}`;
  const mac = createHmac('sha256', jobIdKey).update(userId).update('\n').update(idempotencyKey).digest('hex');
  return `job-${mac.slice(0, 32)}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
