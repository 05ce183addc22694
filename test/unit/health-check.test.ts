import { HealthCheck } from '../../src/api/health-check';

describe('HealthCheck', () => {
  it('when asked again within its age, then it answers the last result; after, it checks again', async () => {
    let now = 0;
    let calls = 0;
    const health = new HealthCheck({
      parts: { temporal: async () => void calls++ },
      maxAgeMs: 2000,
      timeoutMs: 100,
      now: () => now,
    });
    await Promise.all([health.report(), health.report(), health.report()]);
    now = 1999;
    expect(await health.report()).toEqual({ temporal: 'ok' });
    expect(calls).toBe(1);
    now = 2000;
    await health.report();
    expect(calls).toBe(2);
  });

  it('when a part hangs or fails, then it is reported down within the timeout and the others still answer', async () => {
    const health = new HealthCheck({
      parts: {
        temporal: () => new Promise<void>(() => undefined),
        jobsDatabase: () => Promise.reject(new Error('connection refused')),
        audio: () => Promise.resolve(),
      },
      maxAgeMs: 2000,
      timeoutMs: 50,
    });
    expect(await health.report()).toEqual({ temporal: 'down', jobsDatabase: 'down', audio: 'ok' });
  });
});
