import {
  AsrBacklogFullError,
  AsrShareUsedError,
  JobAdmission,
  TooManyJobsInFlightError,
} from '../../src/jobs/job-admission';

/** Job ids as visibility would list them. */
const running = (count: number, prefix = 'running') =>
  new Set(Array.from({ length: count }, (_, index) => `${prefix}-${index}`));

let jobNumber = 0;
/** Asks to admit a new job of the user's. */
const admit = (admission: JobAdmission, userId: string, jobId = `job-${(jobNumber += 1)}`, chunkCount = 6) =>
  admission.admit(userId, jobId, chunkCount);

describe('JobAdmission', () => {
  const signals = (inFlight: number, backlog: number, chunksByUser = new Map<string, number>()) => ({
    jobsInFlightByUser: jest.fn(async () => new Map([['alice', running(inFlight)]])),
    chunkBacklog: jest.fn(async () => backlog),
    chunksInFlightByUser: jest.fn(async () => chunksByUser),
  });

  it('when the user is under quota and the backlog is short, then the job is admitted', async () => {
    const admission = new JobAdmission(signals(2, 10), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    await expect(admit(admission, 'alice')).resolves.toBeUndefined();
  });

  it('when the user has as many jobs in flight as allowed, then the job is refused with a retry hint', async () => {
    const admission = new JobAdmission(signals(3, 0), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    const refused = admit(admission, 'alice');
    await expect(refused).rejects.toThrow(TooManyJobsInFlightError);
    await expect(refused).rejects.toMatchObject({ limit: 3, retryAfterSeconds: expect.any(Number) });
  });

  it('when the ASR backlog is at its limit, then every new job is refused until it drains', async () => {
    const admission = new JobAdmission(signals(0, 100), { jobsInFlightPerUser: 3, asrBacklogLimit: 100 });
    await expect(admit(admission, 'alice')).rejects.toThrow(AsrBacklogFullError);
  });

  it('when five heavy users hold most of a busy backlog, then they wait and a sixth user still gets in', async () => {
    const heavy = new Map(['h1', 'h2', 'h3', 'h4', 'h5'].map((user) => [user, 210] as [string, number]));
    const admission = new JobAdmission(signals(0, 600, heavy), {
      jobsInFlightPerUser: 20,
      asrBacklogLimit: 1000,
      now: () => 1_000_000,
    });
    // While the backlog is busy each user may hold the limit over the users with jobs running: 1000 / 5 = 200.
    const refused = admit(admission, 'h1');
    await expect(refused).rejects.toThrow(AsrShareUsedError);
    await expect(refused).rejects.toMatchObject({ share: 200, retryAfterSeconds: expect.any(Number) });
    // A newcomer makes six: 167 each, which its first job is far under.
    await expect(admit(admission, 'newcomer', undefined, 24)).resolves.toBeUndefined();
    // The newcomer's admitted jobs count against its share at once, before the signals are read again.
    for (let i = 0; i < 5; i += 1) await admit(admission, 'newcomer', undefined, 24);
    await expect(admit(admission, 'newcomer', undefined, 24)).rejects.toThrow(AsrShareUsedError);
  });

  it('when the backlog is under half its limit, then a heavy user is not held to a share', async () => {
    const heavy = new Map([['h1', 900]]);
    const admission = new JobAdmission(signals(0, 499, heavy), {
      jobsInFlightPerUser: 20,
      asrBacklogLimit: 1000,
      now: () => 1_000_000,
    });
    await expect(admit(admission, 'h1', undefined, 24)).resolves.toBeUndefined();
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
    await Promise.all([admit(admission, 'a'), admit(admission, 'b'), admit(admission, 'c')]);
    now += 999;
    await admit(admission, 'd');
    expect(probe.chunkBacklog).toHaveBeenCalledTimes(1);
    expect(probe.jobsInFlightByUser).toHaveBeenCalledTimes(1);
    now += 2;
    await admit(admission, 'e');
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
      { jobsInFlightByUser: async () => new Map(), chunkBacklog: backlog, chunksInFlightByUser: async () => new Map() },
      { jobsInFlightPerUser: 3, asrBacklogLimit: 100, signalCacheMs: 1000, signalMaxStaleMs: 5000, now: () => now },
    );
    await admit(admission, 'a');
    now += 2000;
    await expect(admit(admission, 'b')).resolves.toBeUndefined();
    expect(backlog).toHaveBeenCalledTimes(2);
    slowRead?.();
  });

  it('when the signals are older than the staleness limit, then the job waits for a fresh read', async () => {
    let now = 0;
    let backlogValue = 0;
    const admission = new JobAdmission(
      {
        jobsInFlightByUser: async () => new Map(),
        chunkBacklog: async () => backlogValue,
        chunksInFlightByUser: async () => new Map(),
      },
      { jobsInFlightPerUser: 3, asrBacklogLimit: 100, signalCacheMs: 1000, signalMaxStaleMs: 5000, now: () => now },
    );
    await admit(admission, 'a');
    backlogValue = 100;
    now += 6000;
    await expect(admit(admission, 'b')).rejects.toThrow(AsrBacklogFullError);
  });

  it('when a user submits faster than visibility shows their jobs, then their own submissions still count', async () => {
    let now = 0;
    const admission = new JobAdmission(signals(1, 0), {
      jobsInFlightPerUser: 3,
      asrBacklogLimit: 100,
      now: () => now,
    });
    await admit(admission, 'alice');
    now += 10;
    await admit(admission, 'alice');
    now += 10;
    await expect(admit(admission, 'alice')).rejects.toThrow(TooManyJobsInFlightError);
    await expect(admit(admission, 'bob')).resolves.toBeUndefined();
  });

  it('when a fresh count includes the jobs admitted long before it, then they are not counted twice', async () => {
    let now = 0;
    const inFlight = new Map([['alice', running(0)]]);
    const admission = new JobAdmission(
      {
        jobsInFlightByUser: async () => new Map(inFlight),
        chunkBacklog: async () => 0,
        chunksInFlightByUser: async () => new Map(),
      },
      { jobsInFlightPerUser: 2, asrBacklogLimit: 100, signalCacheMs: 1000, now: () => now },
    );
    await admit(admission, 'alice', 'job-a');
    inFlight.set('alice', new Set(['job-a']));
    now += 10_000;
    await expect(admit(admission, 'alice')).resolves.toBeUndefined();
  });

  it('when a fresh count already shows a job admitted just before it, then that job is counted once', async () => {
    let now = 0;
    const inFlight = new Map([['alice', running(0)]]);
    const admission = new JobAdmission(
      {
        jobsInFlightByUser: async () => new Map(inFlight),
        chunkBacklog: async () => 0,
        chunksInFlightByUser: async () => new Map(),
      },
      { jobsInFlightPerUser: 3, asrBacklogLimit: 100, signalCacheMs: 1000, signalMaxStaleMs: 1000, now: () => now },
    );
    await admit(admission, 'alice', 'job-a');
    await admit(admission, 'alice', 'job-b');
    // Visibility caught up within a second: the next read lists both, inside the window where they are also
    // this process's recent admissions.
    inFlight.set('alice', new Set(['job-a', 'job-b']));
    now += 1500;
    await expect(admit(admission, 'alice', 'job-c')).resolves.toBeUndefined();
    now += 1500;
    await expect(admit(admission, 'alice', 'job-d')).rejects.toThrow(TooManyJobsInFlightError);
  });
});
