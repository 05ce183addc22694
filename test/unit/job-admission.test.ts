import { AsrBacklogFullError, JobAdmission, TooManyJobsInFlightError } from '../../src/jobs/job-admission';

describe('JobAdmission', () => {
  const signals = (inFlight: number, backlog: number) => ({
    jobsInFlightByUser: jest.fn(async () => new Map([['alice', inFlight]])),
    chunkBacklog: jest.fn(async () => backlog),
  });

  it('when the user is under quota and the backlog is short, then the job is admitted', async () => {
    const admission = new JobAdmission(signals(2, 10), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    await expect(admission.admit('alice')).resolves.toBeUndefined();
  });

  it('when the user has as many jobs in flight as allowed, then the job is refused with a retry hint', async () => {
    const admission = new JobAdmission(signals(3, 0), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    const refused = admission.admit('alice');
    await expect(refused).rejects.toThrow(TooManyJobsInFlightError);
    await expect(refused).rejects.toMatchObject({ limit: 3, retryAfterSeconds: expect.any(Number) });
  });

  it('when the ASR backlog is at its limit, then every new job is refused until it drains', async () => {
    const admission = new JobAdmission(signals(0, 100), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    await expect(admission.admit('alice')).rejects.toThrow(AsrBacklogFullError);
  });

  it('when many jobs arrive within the cache window, then the server is asked once for each signal', async () => {
    let now = 0;
    const probe = signals(0, 5);
    const admission = new JobAdmission(probe, {
      jobsInFlightPerUser: 3,
      asrBacklogLimit: 100,
      signalCacheMs: 1000,
      now: () => now,
    });
    await Promise.all([admission.admit('a'), admission.admit('b'), admission.admit('c')]);
    now += 999;
    await admission.admit('d');
    expect(probe.chunkBacklog).toHaveBeenCalledTimes(1);
    expect(probe.jobsInFlightByUser).toHaveBeenCalledTimes(1);
    now += 2;
    await admission.admit('e');
    expect(probe.chunkBacklog).toHaveBeenCalledTimes(2);
    expect(probe.jobsInFlightByUser).toHaveBeenCalledTimes(2);
  });

  it('when the signals are a little old and the server is slow, then the job is admitted without waiting for it', async () => {
    let now = 0;
    let slowRead: (() => void) | undefined;
    const backlog = jest.fn(async () => {
      if (now > 0) await new Promise<void>((resolve) => (slowRead = resolve));
      return 0;
    });
    const admission = new JobAdmission(
      { jobsInFlightByUser: async () => new Map(), chunkBacklog: backlog },
      { jobsInFlightPerUser: 3, asrBacklogLimit: 100, signalCacheMs: 1000, signalMaxStaleMs: 5000, now: () => now },
    );
    await admission.admit('a');
    now += 2000;
    await expect(admission.admit('b')).resolves.toBeUndefined();
    expect(backlog).toHaveBeenCalledTimes(2);
    slowRead?.();
  });

  it('when the signals are older than the staleness limit, then the job waits for a fresh read', async () => {
    let now = 0;
    let backlogValue = 0;
    const admission = new JobAdmission(
      { jobsInFlightByUser: async () => new Map(), chunkBacklog: async () => backlogValue },
      { jobsInFlightPerUser: 3, asrBacklogLimit: 100, signalCacheMs: 1000, signalMaxStaleMs: 5000, now: () => now },
    );
    await admission.admit('a');
    backlogValue = 100;
    now += 6000;
    await expect(admission.admit('b')).rejects.toThrow(AsrBacklogFullError);
  });

  it('when a user submits faster than visibility shows their jobs, then their own submissions still count', async () => {
    let now = 0;
    const admission = new JobAdmission(signals(1, 0), {
      jobsInFlightPerUser: 3,
      asrBacklogLimit: 100,
      now: () => now,
    });
    await admission.admit('alice');
    now += 10;
    await admission.admit('alice');
    now += 10;
    await expect(admission.admit('alice')).rejects.toThrow(TooManyJobsInFlightError);
    await expect(admission.admit('bob')).resolves.toBeUndefined();
  });

  it('when a fresh count includes the jobs admitted long before it, then they are not counted twice', async () => {
    let now = 0;
    const inFlight = new Map([['alice', 0]]);
    const admission = new JobAdmission(
      { jobsInFlightByUser: async () => new Map(inFlight), chunkBacklog: async () => 0 },
      { jobsInFlightPerUser: 2, asrBacklogLimit: 100, signalCacheMs: 1000, now: () => now },
    );
    await admission.admit('alice');
    inFlight.set('alice', 1);
    now += 10_000;
    await expect(admission.admit('alice')).resolves.toBeUndefined();
  });
});
