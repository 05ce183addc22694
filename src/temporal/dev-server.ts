import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { freePort } from '../process/free-port';
import { spawnGuarded } from '../process/guarded-process';
import { connectClient } from './wait-for-temporal';

export interface DevServerOptions {
  /** Where `npm run setup` installed the pinned CLI (`<toolsDir>/venv/bin/temporal`). */
  toolsDir: string;
  /** The SQLite database file; its folder is created if needed. */
  dbFilename: string;
  /** The frontend's gRPC port; 0 picks a free one (the CLI cannot bind port 0 itself). */
  port: number;
  /** The Web UI's port (0 picks a free one), or `undefined` for a headless server. */
  uiPort?: number;
  namespace: string;
  startupTimeoutMs: number;
  /** Serves the server's Prometheus metrics (persistence latency by operation, among others) on this port. */
  metricsPort?: number;
  onOutput?: (line: string) => void;
  /** Told why, each time a start that lost a port race is tried again. */
  onRetry?: (reason: string) => void;
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

/** Starts of one server, each on fresh ports where they were left to us, before the port race is taken as lost. */
const PORT_ATTEMPTS = 5;

/** Path of the pinned Temporal CLI inside the project's tools folder. */
export function temporalCliPath(toolsDir: string): string {
  return path.join(toolsDir, 'venv', 'bin', 'temporal');
}

/** What the CLI's output said about a port it could not have: the port, when it names one. */
interface PortTrouble {
  port: number | undefined;
}

/** The CLI exited before serving; `portTrouble` is set when its output said it lost a port. */
class DevServerExitedError extends Error {
  constructor(
    readonly code: number | null,
    readonly portTrouble: PortTrouble | undefined,
    output: string,
  ) {
    super(`temporal server start-dev exited (code ${code}):\n${output}`);
  }
}

/**
 * Starts `temporal server start-dev` on loopback with a persistent SQLite database in WAL mode, and waits
 * (longer than the SDK's own 5 s, which a loaded 2-core machine can miss) until it serves the namespace.
 *
 * The CLI takes its ports by number, and picks its internal services' ports itself, so another process can take
 * one of them first. It then exits saying `<ip>:<port>: bind: address already in use` (CLI 1.9.1, exit 1, for the
 * frontend, UI, HTTP and internal ports alike), or panics with `failed assigning ephemeral port` (exit 2) when its
 * own pick fails. Such a start is tried again, on fresh ports for those given as 0; a port given by number is never
 * changed, so when that one is taken the start fails, naming it.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  await mkdir(path.dirname(options.dbFilename), { recursive: true });
  const fixedPorts = [options.port, options.uiPort, options.metricsPort].filter(
    (port): port is number => port !== undefined && port !== 0,
  );
  for (let attempt = 1; ; attempt++) {
    const port = options.port === 0 ? await freePort() : options.port;
    const uiPort = options.uiPort === 0 ? await freePort() : options.uiPort;
    try {
      return await startOnPorts(options, port, uiPort);
    } catch (err) {
      const trouble = err instanceof DevServerExitedError ? err.portTrouble : undefined;
      const lostRace = trouble !== undefined && (trouble.port === undefined || !fixedPorts.includes(trouble.port));
      if (!lostRace || attempt >= PORT_ATTEMPTS) throw err;
      options.onRetry?.(
        `temporal server start-dev lost ${trouble.port === undefined ? 'a port' : `port ${trouble.port}`} to another process (attempt ${attempt} of ${PORT_ATTEMPTS}); starting it again`,
      );
    }
  }
}

async function startOnPorts(options: DevServerOptions, port: number, uiPort: number | undefined): Promise<DevServer> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
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
    ...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
  ];
  let portTrouble: PortTrouble | undefined;
  // Under the guard, so no orphan keeps the database and ports if this process dies.
  const server = spawnGuarded('temporal-dev-server', temporalCliPath(options.toolsDir), args, (line) => {
    portTrouble ??= portTroubleIn(line);
    options.onOutput?.(line);
  });
  const { exited } = server;

  const address = `127.0.0.1:${port}`;
  const stop = (): Promise<void> => server.stop();
  const exitedEarly = exited.then((code) => {
    throw new DevServerExitedError(code, portTrouble, server.recentOutput());
  });
  exitedEarly.catch(() => undefined);
  try {
    await waitUntilServing(address, options, exitedEarly);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    pid: server.pid,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    exited,
    stop,
  };
}

/**
 * Waits until the server at `address` serves the namespace, one short attempt after another, and stops waiting as
 * soon as it exits: attempts must not go on knocking at a port that another process may now hold.
 */
async function waitUntilServing(
  address: string,
  options: DevServerOptions,
  exitedEarly: Promise<never>,
): Promise<void> {
  const deadline = Date.now() + options.startupTimeoutMs;
  for (;;) {
    const attempt = connectClient({ address, namespace: options.namespace, timeoutMs: 0 });
    try {
      const connection = await Promise.race([attempt, exitedEarly]);
      await connection.close();
      return;
    } catch (err) {
      if (err instanceof DevServerExitedError) {
        void attempt.then(
          (connection) => connection.close(),
          () => undefined,
        );
        throw err;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `temporal server start-dev did not serve ${address} within ${options.startupTimeoutMs} ms: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      await sleep(250);
    }
  }
}

function portTroubleIn(line: string): PortTrouble | undefined {
  const taken = /:(\d+): bind: address already in use/.exec(line);
  if (taken) return { port: Number(taken[1]) };
  return line.includes('failed assigning ephemeral port') ? { port: undefined } : undefined;
}

function searchAttributeFlagType(type: string): string {
  return type === 'KEYWORD_LIST' ? 'KeywordList' : type.charAt(0) + type.slice(1).toLowerCase();
}
