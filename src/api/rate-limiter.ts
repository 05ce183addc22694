import type { Logger } from '../logger';

/** The answer of a rate limiter: go ahead, or wait this long. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** A token bucket's shape: `burst` requests at once, refilled at `perSecond`. */
export interface RatePolicy {
  perSecond: number;
  burst: number;
}

/** A token bucket as it was last left. */
export interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** What the API asks of a limiter, per key (`user:<id>`, `ip:<address>`). */
export interface RateLimiter {
  /** Spends one request of the key's allowance, if it has one. */
  take(key: string): Promise<RateDecision>;
  /** Whether the key has a request left, without spending it. */
  peek(key: string): Promise<RateDecision>;
}

/** The tokens a bucket holds at `nowMs`, refilled since it was last left and never above the burst. */
export function refilled(bucket: Bucket | undefined, policy: RatePolicy, nowMs: number): number {
  if (!bucket) return policy.burst;
  const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
  return Math.min(policy.burst, bucket.tokens + (elapsedMs * policy.perSecond) / 1000);
}

/** Allowed when a whole token is there; otherwise how long until one is. */
export function decide(tokens: number, policy: RatePolicy): RateDecision {
  return tokens >= 1
    ? { allowed: true }
    : { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / policy.perSecond) };
}

/**
 * Token buckets in this process's memory: the fallback of {@link FleetRateLimiter} when the shared store does not
 * answer, where each API process then limits on its own (so N processes allow about N times the rate).
 */
export class ProcessRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly policy: RatePolicy,
    private readonly options: { now?: () => number; maxKeys?: number } = {},
  ) {}

  take(key: string): Promise<RateDecision> {
    const now = this.now();
    const tokens = refilled(this.buckets.get(key), this.policy, now);
    const decision = decide(tokens, this.policy);
    // Re-inserting keeps the map in least-recently-used order, so pruning drops idle keys first.
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: decision.allowed ? tokens - 1 : tokens, updatedMs: now });
    this.prune();
    return Promise.resolve(decision);
  }

  peek(key: string): Promise<RateDecision> {
    return Promise.resolve(decide(refilled(this.buckets.get(key), this.policy, this.now()), this.policy));
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

/** Where the fleet's buckets live: every API process spends from the same ones. */
export interface SharedBuckets {
  /** Refills the key's bucket and spends a token if a whole one is there, in one step; what it holds after. */
  take(key: string, policy: RatePolicy, nowMs: number): Promise<{ spent: boolean; tokens: number }>;
  get(key: string): Promise<Bucket | undefined>;
}

const FALLBACK_WARNING_EVERY_MS = 60_000;

/**
 * Token buckets shared by every API process of the fleet (in the jobs database), so a user's rate is the same
 * however many processes the balancer spreads them over. When the store fails, each process limits on its own
 * rather than refuse everyone or let everyone through, and says so in its log at most once a minute.
 */
export class FleetRateLimiter implements RateLimiter {
  private lastWarningMs = -Infinity;

  constructor(
    private readonly shared: SharedBuckets,
    private readonly policy: RatePolicy,
    private readonly fallback: RateLimiter,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string): Promise<RateDecision> {
    try {
      const { spent, tokens } = await this.shared.take(key, this.policy, this.now());
      return spent ? { allowed: true } : decide(tokens, this.policy);
    } catch (err) {
      this.warn(err);
      return this.fallback.take(key);
    }
  }

  async peek(key: string): Promise<RateDecision> {
    try {
      return decide(refilled(await this.shared.get(key), this.policy, this.now()), this.policy);
    } catch (err) {
      this.warn(err);
      return this.fallback.peek(key);
    }
  }

  private warn(err: unknown): void {
    const now = this.now();
    if (now - this.lastWarningMs < FALLBACK_WARNING_EVERY_MS) return;
    this.lastWarningMs = now;
    this.logger.warn({ err }, 'shared rate limits unavailable: each API process limits on its own until they are back');
  }
}
