import { KnownRuns } from '../../src/temporal/known-runs';

describe('KnownRuns', () => {
  it('when more jobs are seen than it keeps, then the one read longest ago is forgotten first', () => {
    const runs = new KnownRuns(2);
    runs.remember('job-a', 'run-a');
    runs.remember('job-b', 'run-b');
    // Read again: job-a is now the newest.
    runs.remember('job-a', 'run-a');
    runs.remember('job-c', 'run-c');
    expect(runs.get('job-a')).toBe('run-a');
    expect(runs.get('job-b')).toBeUndefined();
    expect(runs.get('job-c')).toBe('run-c');
  });

  it('when a job is reset into a new run, then the new run replaces the old, and a forgotten job is unknown', () => {
    const runs = new KnownRuns(10);
    runs.remember('job-a', 'run-1');
    runs.remember('job-a', 'run-2');
    expect(runs.get('job-a')).toBe('run-2');
    runs.forget('job-a');
    expect(runs.get('job-a')).toBeUndefined();
  });
});
