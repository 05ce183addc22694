import path from 'node:path';
import { FleetRateLimiter, ProcessRateLimiter } from '../../src/api/rate-limiter';
import { migrate } from '../../src/jobs-database/migrations';
import { RateLimitBuckets } from '../../src/jobs-database/rate-limit-buckets';
import { openSqlite } from '../../src/jobs-database/sqlite-connection';
import { createLogger } from '../../src/logger';
import { tempDir } from '../support/temp-dir';

describe('ProcessRateLimiter', () => {
  let now = 0;
  const limiter = () => new ProcessRateLimiter({ perSecond: 2, burst: 3 }, { now: () => now });
  const takeTimes = async (rate: ProcessRateLimiter, key: string, times: number) => {
    const decisions = [];
    for (let i = 0; i < times; i += 1) decisions.push(await rate.take(key));
    return decisions;
  };

  beforeEach(() => {
    now = 1_000_000;
  });

  it('when a user sends a burst, then the burst passes and the next request waits for a token', async () => {
    const rate = limiter();
    expect(await takeTimes(rate, 'alice', 3)).toEqual(Array(3).fill({ allowed: true }));
    expect(await rate.take('alice')).toEqual({ allowed: false, retryAfterMs: 500 });
  });

  it('when time passes, then tokens come back at the sustained rate, never above the burst', async () => {
    const rate = limiter();
    await takeTimes(rate, 'alice', 3);
    now += 500;
    expect(await rate.take('alice')).toEqual({ allowed: true });
    expect((await rate.take('alice')).allowed).toBe(false);
    now += 60_000;
    expect((await takeTimes(rate, 'alice', 3)).every((decision) => decision.allowed)).toBe(true);
    expect((await rate.take('alice')).allowed).toBe(false);
  });

  it('when one user is limited, then another user is not, and looking does not spend', async () => {
    const rate = limiter();
    await takeTimes(rate, 'alice', 4);
    expect(await rate.take('bob')).toEqual({ allowed: true });
    expect((await rate.peek('alice')).allowed).toBe(false);
    for (let i = 0; i < 5; i += 1) expect(await rate.peek('bob')).toEqual({ allowed: true });
  });

  it('when more users than it keeps have called, then the least recently seen are forgotten first', async () => {
    const rate = new ProcessRateLimiter({ perSecond: 1, burst: 1 }, { now: () => now, maxKeys: 2 });
    await rate.take('alice');
    await rate.take('bob');
    await rate.take('alice');
    await rate.take('carol');
    expect(await rate.take('bob')).toEqual({ allowed: true });
    expect((await rate.take('carol')).allowed).toBe(false);
  });
});

describe('FleetRateLimiter', () => {
  it('when two API processes share the jobs database, then a user gets one burst between them, not one each', async () => {
    const file = path.join(await tempDir('fleet-rate'), 'jobs.sqlite');
    const [first, second] = [openSqlite(file), openSqlite(file)];
    await migrate(first);
    const logger = createLogger('api', 'silent');
    // A refill far slower than the test, however slow the machine: only the burst counts.
    const policy = { perSecond: 0.001, burst: 4 };
    const limiters = [first, second].map(
      (sql) => new FleetRateLimiter(new RateLimitBuckets(sql), policy, new ProcessRateLimiter(policy), logger),
    );
    const decisions = [];
    for (let i = 0; i < 6; i += 1) decisions.push((await limiters[i % 2]!.take('user:alice')).allowed);
    expect(decisions).toEqual([true, true, true, true, false, false]);
    expect((await limiters[0]!.peek('user:alice')).allowed).toBe(false);
    expect((await limiters[1]!.take('user:bob')).allowed).toBe(true);
    await Promise.all([first.close(), second.close()]);
  });

  it('when the jobs database is gone, then each process limits on its own and warns once, not per request', async () => {
    const sql = openSqlite(path.join(await tempDir('fleet-rate-down'), 'jobs.sqlite'));
    await migrate(sql);
    await sql.close();
    const warnings: unknown[] = [];
    const logger = createLogger('api', 'silent');
    jest.spyOn(logger, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args));
    const policy = { perSecond: 0.001, burst: 2 };
    const limiter = new FleetRateLimiter(new RateLimitBuckets(sql), policy, new ProcessRateLimiter(policy), logger);
    const decisions = [];
    for (let i = 0; i < 3; i += 1) decisions.push((await limiter.take('user:alice')).allowed);
    expect(decisions).toEqual([true, true, false]);
    expect((await limiter.peek('user:alice')).allowed).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});
