import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { spawnGuarded } from '../guarded-process';
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
    // The UI's news feed is fetched from temporal.io, which a service on a closed network must not depend on.
    ...(options.uiPort === undefined
      ? ['--headless']
      : ['--ui-port', String(options.uiPort), '--ui-disable-news-fetch']),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
  ];
  // Under the guard, so no orphan keeps the database and ports if this process dies.
  const server = spawnGuarded('temporal-dev-server', temporalCliPath(options.toolsDir), args, (line) =>
    options.onOutput?.(line),
  );
  const { exited } = server;

  const address = `127.0.0.1:${options.port}`;
  const stop = (): Promise<void> => server.stop();

  try {
    const exitedEarly = exited.then((code) => {
      throw new Error(`temporal server start-dev exited (code ${code}):\n${server.recentOutput()}`);
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
    pid: server.pid,
    uiUrl: options.uiPort === undefined ? undefined : `http://127.0.0.1:${options.uiPort}`,
    exited,
    stop,
  };
}

function searchAttributeFlagType(type: string): string {
  return type === 'KEYWORD_LIST' ? 'KeywordList' : type.charAt(0) + type.slice(1).toLowerCase();
}
