import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { connectClient } from './wait-for-temporal';

export interface DevServerOptions {
  /** Where `npm run setup` installed the pinned CLI (`<toolsDir>/venv/bin/temporal`). */
  toolsDir: string;
  /** The SQLite database file; its folder is created if needed. */
  dbFilename: string;
  port: number;
  /** The Web UI's port, or `undefined` for a headless server. */
  uiPort?: number;
  namespace: string;
  startupTimeoutMs: number;
  /** Serves the server's Prometheus metrics (persistence latency by operation, among others) on this port. */
  metricsPort?: number;
  onOutput?: (line: string) => void;
}

export interface DevServer {
  address: string;
  /** The shell guard's pid; the server is its child. */
  pid: number | undefined;
  uiUrl: string | undefined;
  /** Resolves when the server process has exited, whoever stopped it. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Path of the pinned Temporal CLI inside the project's tools folder. */
export function temporalCliPath(toolsDir: string): string {
  return path.join(toolsDir, 'venv', 'bin', 'temporal');
}

/**
 * The server runs under a small shell guard that stops it when our end of its stdin closes: on `stop()`, and
 * also when this process dies without a chance to clean up (SIGKILL), so no orphan keeps the database and ports.
 */
const GUARD = 'exec 3<&0; "$@" </dev/null & pid=$!; (cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null) & wait "$pid"';

/**
 * Starts `temporal server start-dev` on loopback with a persistent SQLite database in WAL mode, and waits
 * (longer than the SDK's own 5 s, which a loaded 2-core machine can miss) until it serves the namespace.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  await mkdir(path.dirname(options.dbFilename), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--db-filename',
    options.dbFilename,
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=NORMAL',
    // A workflow task that schedules chunks gets some of them back at once, skipping a round trip through matching.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    '--namespace',
    options.namespace,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...CUSTOM_SEARCH_ATTRIBUTES.flatMap((key) => [
      '--search-attribute',
      `${key.name}=${searchAttributeFlagType(key.type)}`,
    ]),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
  ];
  const child: ChildProcess = spawn(
    'sh',
    ['-c', GUARD, 'temporal-dev-server', temporalCliPath(options.toolsDir), ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches only the launcher, which stops the server last.
      detached: true,
    },
  );
  const recent: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 20) recent.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `127.0.0.1:${options.port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.stdin?.end();
    await exited;
  };

  try {
    const exitedEarly = exited.then((code) => {
      throw new Error(`temporal server start-dev exited (code ${code}):\n${recent.join('\n')}`);
    });
    exitedEarly.catch(() => undefined);
    const connection = await Promise.race([
      connectClient({ address, namespace: options.namespace, timeoutMs: options.startupTimeoutMs }),
      exitedEarly,
    ]);
    await connection.close();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    pid: child.pid,
    uiUrl: options.uiPort === undefined ? undefined : `http://127.0.0.1:${options.uiPort}`,
    exited,
    stop,
  };
}

function searchAttributeFlagType(type: string): string {
  return type === 'KEYWORD_LIST' ? 'KeywordList' : type.charAt(0) + type.slice(1).toLowerCase();
}
