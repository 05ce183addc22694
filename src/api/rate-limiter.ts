/** The answer of a {@link RateLimiter}: go ahead, or wait this long. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per key (a user id): `burst` requests at once, refilled at `perSecond`. In memory, per API
 * process; with N API processes behind a balancer a user gets about N times the rate, which the limits allow for.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: { perSecond: number; burst: number; now?: () => number; maxKeys?: number }) {}

  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, updatedMs: now };
    const elapsedMs = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + (elapsedMs * this.options.perSecond) / 1000);
    bucket.updatedMs = now;
    // Re-inserting keeps the map in least-recently-used order, so pruning drops idle users first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    this.prune();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.options.perSecond) };
  }

  private prune(): void {
    const maxKeys = this.options.maxKeys ?? 100_000;
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= maxKeys) return;
      this.buckets.delete(key);
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
