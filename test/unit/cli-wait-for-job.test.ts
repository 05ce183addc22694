import { ApiError, ApiUnreachableError, type TranscriptResult } from '../../src/cli/api-client';
import { waitForJob } from '../../src/cli/wait-for-job';
import { jobWith } from '../support/cli-jobs';

const running = jobWith([{ status: 'in_progress', attempts: 1 }]);
const completed = jobWith([{ status: 'completed', attempts: 1, transcript: 'hi' }], { jobStatus: 'completed' });

/** A client answering from a script, on a fake clock that each sleep and each answer move on. */
function scripted(answers: (TranscriptResult | Error)[]) {
  let clock = 0;
  const calls: { wait?: number }[] = [];
  const getJob = jest.fn(async (_jobId: string, options: { wait?: number } = {}) => {
    calls.push(options);
    clock += options.wait === undefined ? 10 : options.wait * 1000;
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no more answers');
    if (answer instanceof Error) throw answer;
    return answer;
  });
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
  };
  return { client: { getJob }, calls, sleeps, sleep, now: () => clock };
}

describe('waiting for a job in the CLI', () => {
  it('when the job runs, then it is read at once, then long-polled a second at a time until it ends', async () => {
    const { client, calls, sleeps, sleep, now } = scripted([running, running, completed]);
    const updates: string[] = [];
    const job = await waitForJob(client, 'job-1', { onUpdate: (each) => updates.push(each.jobStatus), sleep, now });
    expect(job).toBe(completed);
    expect(calls).toEqual([{}, { wait: 1 }, { wait: 1 }]);
    expect(updates).toEqual(['in_progress', 'in_progress', 'completed']);
    expect(sleeps).toEqual([]);
  });

  it('when the API is briefly busy or away, then the wait goes on, honouring Retry-After', async () => {
    const busy = new ApiError(503, 'temporal_unavailable', 'Temporal is not answering', null, 3);
    const away = new ApiUnreachableError('http://127.0.0.1:3000', 'connection refused');
    const { client, sleeps, sleep, now } = scripted([running, busy, away, completed]);
    await expect(waitForJob(client, 'job-1', { onUpdate: () => undefined, sleep, now })).resolves.toBe(completed);
    expect(sleeps).toEqual([2000]);
  });

  it('when the API keeps failing, or refuses the request, then the wait gives up with that error', async () => {
    const busy = new ApiError(503, 'temporal_unavailable', 'Temporal is not answering', null, undefined);
    const forever = scripted([running, ...Array.from({ length: 40 }, () => busy)]);
    await expect(waitForJob(forever.client, 'job-1', { onUpdate: () => undefined, ...forever })).rejects.toThrow(
      'Temporal is not answering',
    );
    const gone = new ApiError(404, 'job_not_found', 'no such job', null, undefined);
    const refused = scripted([running, gone]);
    await expect(waitForJob(refused.client, 'job-1', { onUpdate: () => undefined, ...refused })).rejects.toBe(gone);
  });
});
