import type { ChildProcess } from 'node:child_process';

/**
 * How each service process (API, worker, ASR simulator) starts and stops alike, whether run alone or by `npm start`.
 * Under `npm start` the launcher talks to its children over an IPC channel: a child reports that it is ready on it,
 * and takes the channel's closing (the launcher stopped, even by SIGKILL) as the order to shut down.
 */

/** Tells the launcher, if there is one, that this process is ready and where. */
export function announceReady(info: Record<string, string>): void {
  process.send?.({ type: 'ready', ...info });
}

/** Runs `shutdown` once on SIGINT, SIGTERM or the launcher going away, then exits. */
export function onShutdown(shutdown: () => Promise<void>, log: (message: string) => void): void {
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  if (process.connected) process.once('disconnect', () => stop('launcher gone'));
}

/** Sends a child process `signal` (unless it has already exited) and resolves once it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}
