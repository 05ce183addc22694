import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptsConnections } from '../process/free-port';
import { spawnGuarded, type GuardedProcess } from '../process/guarded-process';
import { openLogFile } from './log-file';

/** Time a Temporal service gets to shut down on SIGTERM (a history process hands its shards over) before SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 200;
/**
 * Writes the shell's own pid to the pid file, then becomes the server: the pid in the file is the server's, so
 * `kill -9 $(cat history-1.pid)` hits the server itself, as a crash would, not the guard around it.
 */
const WRITE_PID_THEN_EXEC = 'echo $$ >"$0"; exec "$@"';

export interface ClusterProcessOptions {
  /** `<service>-<n>`, as in its pid file's name. */
  name: string;
  command: string;
  args: string[];
  /** The port it listens on once it serves. */
  port: number;
  /** Its whole environment: nothing is inherited. */
  env: NodeJS.ProcessEnv;
  pidFile: string;
  logFile: string;
  startupTimeoutMs: number;
  /** Told when the process exits without `stop()` or `kill()` having been asked for: it crashed. */
  onUnexpectedExit?: (code: number | null) => void;
}

interface Running {
  guard: GuardedProcess;
  pid: number;
  /** Set before a stop or kill we ask for, so its exit is not reported as a crash. */
  expected: boolean;
  /** The clean-up after its exit, started once by whoever sees the exit first. */
  finished?: Promise<void>;
}

/**
 * One process of the cluster (a Temporal service, or the Web UI), with handles to stop, kill and restart it (what
 * the fault tests do to it). It keeps its ports across restarts: the other processes find it again by them.
 */
export class ClusterProcess {
  private running: Running | undefined;

  constructor(private readonly options: ClusterProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** The process's own pid (not its guard's) while it runs. */
  get pid(): number | undefined {
    return this.running?.pid;
  }

  /** Starts the process and resolves once its port accepts connections. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const { command, args, env, pidFile } = this.options;
    await rm(pidFile, { force: true });
    const log = openLogFile(this.options.logFile);
    // env(1) clears the guard's environment first: the process gets `env` and nothing else.
    const assignments = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`]));
    const guard = spawnGuarded(
      this.name,
      'env',
      ['-i', ...assignments, 'sh', '-c', WRITE_PID_THEN_EXEC, pidFile, command, ...args],
      (line) => log.write(line),
    );
    void guard.exited.then(() => log.close());
    try {
      const pid = await this.untilReady(guard);
      const running: Running = { guard, pid, expected: false };
      this.running = running;
      void guard.exited.then((code) => this.finish(running, code));
    } catch (err) {
      await guard.stop();
      throw err;
    }
  }

  /** SIGTERM, and SIGKILL if it has not shut down within 30 s; resolves once it has exited. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.expected = true;
    signal(running.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(running.pid, 'SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await running.guard.exited;
    } finally {
      clearTimeout(timer);
    }
    await this.finish(running, null);
  }

  /** Sends `sig` (SIGKILL by default: a crash, no shutdown at all) and resolves once the process has exited. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.expected = true;
    signal(running.pid, sig);
    await running.guard.exited;
    await this.finish(running, null);
  }

  /** Stops the process and starts it again on the same ports and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Clean-up after an exit, whoever caused it, once per run (the exit handler set at start comes first, with the exit
   * code): the pid file goes before a restart can write the next one, and a crash is reported.
   */
  private finish(running: Running, code: number | null): Promise<void> {
    running.finished ??= (async () => {
      if (this.running === running) this.running = undefined;
      await running.guard.stop();
      await rm(this.options.pidFile, { force: true });
      if (!running.expected) this.options.onUnexpectedExit?.(code);
    })();
    return running.finished;
  }

  /** The process's pid once it has written it and its port accepts connections; rejects if it exits first. */
  private async untilReady(guard: GuardedProcess): Promise<number> {
    let exitCode: number | null | undefined;
    void guard.exited.then((code) => (exitCode = code));
    const deadline = Date.now() + this.options.startupTimeoutMs;
    let pid: number | undefined;
    for (;;) {
      if (exitCode !== undefined) {
        throw new Error(
          `${this.name} exited (code ${exitCode}) before it served; its log is ` +
            `${this.options.logFile}:\n${guard.recentOutput()}`,
        );
      }
      pid ??= await readPid(this.options.pidFile);
      if (pid !== undefined && (await acceptsConnections(this.options.port))) return pid;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} did not listen on ${this.options.port} within ` +
            `${this.options.startupTimeoutMs} ms; its log is ${this.options.logFile}:\n${guard.recentOutput()}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
