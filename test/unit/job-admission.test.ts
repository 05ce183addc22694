import { AsrBacklogFullError, JobAdmission, TooManyJobsInFlightError } from '../../src/jobs/job-admission';

describe('JobAdmission', () => {
  const signals = (inFlight: number, backlog: number) => ({
    jobsInFlight: jest.fn(async (_userId: string) => inFlight),
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

  it('when many jobs arrive within the cache window, then the backlog is read once', async () => {
    let now = 0;
    const probe = signals(0, 5);
    const admission = new JobAdmission(probe, {
      jobsInFlightPerUser: 3,
      asrBacklogLimit: 100,
      backlogCacheMs: 1000,
      now: () => now,
    });
    await Promise.all([admission.admit('a'), admission.admit('b'), admission.admit('c')]);
    now += 999;
    await admission.admit('d');
    expect(probe.chunkBacklog).toHaveBeenCalledTimes(1);
    now += 2;
    await admission.admit('e');
    expect(probe.chunkBacklog).toHaveBeenCalledTimes(2);
  });
});
