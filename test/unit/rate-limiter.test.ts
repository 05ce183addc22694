import { RateLimiter } from '../../src/api/rate-limiter';

describe('RateLimiter', () => {
  let now = 0;
  const limiter = () => new RateLimiter({ perSecond: 2, burst: 3, now: () => now });

  beforeEach(() => {
    now = 1_000_000;
  });

  it('when a user sends a burst, then the burst passes and the next request waits for a token', () => {
    const rate = limiter();
    expect([rate.take('alice'), rate.take('alice'), rate.take('alice')]).toEqual(Array(3).fill({ allowed: true }));
    expect(rate.take('alice')).toEqual({ allowed: false, retryAfterMs: 500 });
  });

  it('when time passes, then tokens come back at the sustained rate, never above the burst', () => {
    const rate = limiter();
    for (let i = 0; i < 3; i += 1) rate.take('alice');
    now += 500;
    expect(rate.take('alice')).toEqual({ allowed: true });
    expect(rate.take('alice').allowed).toBe(false);
    now += 60_000;
    for (let i = 0; i < 3; i += 1) expect(rate.take('alice').allowed).toBe(true);
    expect(rate.take('alice').allowed).toBe(false);
  });

  it('when one user is limited, then another user is not', () => {
    const rate = limiter();
    for (let i = 0; i < 4; i += 1) rate.take('alice');
    expect(rate.take('bob')).toEqual({ allowed: true });
  });

  it('when more users than it keeps have called, then the least recently seen are forgotten first', () => {
    const rate = new RateLimiter({ perSecond: 1, burst: 1, now: () => now, maxKeys: 2 });
    rate.take('alice');
    rate.take('bob');
    rate.take('alice');
    rate.take('carol');
    expect(rate.take('bob')).toEqual({ allowed: true });
    expect(rate.take('carol').allowed).toBe(false);
  });
});
