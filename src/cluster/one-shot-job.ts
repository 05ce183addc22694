import { spawnGuarded } from '../process/guarded-process';
import { openLogFile } from './log-file';

/**
 * Runs one of the compose file's one-shot jobs (a script of deploy/temporal) with `sh`, as its container's
 * entrypoint does, in the environment given and nothing else, its output appended to `logFile`. Resolves when it
 * exits 0; otherwise rejects with its last lines. Under the process guard, so a cluster that is killed does not
 * leave it running.
 */
export async function runOneShotJob(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  options: { timeoutMs: number; logFile: string },
): Promise<void> {
  const log = openLogFile(options.logFile);
  // spawnGuarded passes its own environment on: the job's is set with env(1), which clears the rest first.
  const assignments = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`]));
  const job = spawnGuarded(name, 'env', ['-i', ...assignments, 'sh', script], (line) => log.write(line));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  try {
    const code = await Promise.race([job.exited, timedOut]);
    if (code === 'timeout') {
      throw new Error(`${name} (${script}) did not finish within ${options.timeoutMs} ms:\n${job.recentOutput()}`);
    }
    if (code !== 0) throw new Error(`${name} (${script}) failed (exit code ${code}):\n${job.recentOutput()}`);
  } finally {
    clearTimeout(timer);
    await job.stop();
    await log.close();
  }
}
