import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A small shell guard that stops the command when our end of its stdin closes: on `stop()`, and also when this
 * process dies without a chance to clean up (SIGKILL), so no orphan keeps ports, files or CPU.
 */
const GUARD = 'exec 3<&0; "$@" </dev/null & pid=$!; (cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null) & wait "$pid"';
const REMEMBERED_LINES = 20;

export interface GuardedProcess {
  /** The shell guard's pid; the command is its child. */
  pid: number | undefined;
  /** Resolves when the command has exited, whoever stopped it. */
  exited: Promise<number | null>;
  /** The last lines it wrote, for an error message when it fails. */
  recentOutput(): string;
  stop(): Promise<void>;
}

/**
 * Runs `command` under the guard in its own process group (a terminal's Ctrl-C reaches only our launcher, which
 * stops its children in order), handing each non-empty line it writes to `onLine`.
 */
export function spawnGuarded(
  name: string,
  command: string,
  args: string[],
  onLine: (line: string, stream: 'stdout' | 'stderr') => void = () => undefined,
): GuardedProcess {
  const child: ChildProcess = spawn('sh', ['-c', GUARD, name, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const recent: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (line) => {
      if (line.trim() === '') return;
      recent.push(line);
      if (recent.length > REMEMBERED_LINES) recent.shift();
      onLine(line, stream);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid,
    exited,
    recentOutput: () => recent.join('\n'),
    stop: async () => {
      // Also after the command died on its own: closing stdin ends the guard's watcher, which would linger.
      child.stdin?.end();
      await exited;
    },
  };
}
