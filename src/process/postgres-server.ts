import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './free-port';
import { spawnGuarded, type GuardedProcess } from './guarded-process';

const execFileAsync = promisify(execFile);

/** Where Debian's postgresql-15 puts initdb and postgres (not on PATH); `scripts/install-postgresql.sh` installs it. */
export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** The superuser initdb creates; trusted without a password, as the server listens on loopback only. */
export const POSTGRES_SUPERUSER = 'transcription';

const HOST = '127.0.0.1';
const INSTALL_HINT = "as root, run `bash scripts/setup.sh postgres` (it installs Debian's postgresql-15)";
/** For initdb, and again for the server to accept connections: a crash recovery on a loaded 2-core machine is slow. */
const DEFAULT_STARTUP_TIMEOUT_MS = 90_000;
/** A fast shutdown ends with a checkpoint, which after heavy writes takes a while; SIGKILL after that. */
const STOP_TIMEOUT_MS = 60_000;
const ABANDON_GRACE_MS = 10_000;
const PORT_ATTEMPTS = 5;
/** How long a start waits for the processes of a killed server, still holding its data folder, to go away. */
const STALE_SERVER_WAIT_MS = 15_000;
const STALE_SERVER_RETRY_MS = 250;
const POLL_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 5_000;
/** PostgreSQL silently truncates longer names, so a database asked for under one would be created under another. */
const MAX_NAME_BYTES = 63;

export interface PostgresOptions {
  /** The cluster's folder: initdb'd on the first start, reused after. Its log: `<dataDir>/log/postgres.log`. */
  dataDir: string;
  /** A loopback port; when not given (or 0), a free one, and another if it is taken before the server binds it. */
  port?: number;
  /** Created at start unless they exist. */
  databases?: string[];
  /** Receives each line the server writes (they also go to its log file). */
  log?: (line: string) => void;
  /** Where initdb and postgres are; Debian's PostgreSQL 15 by default. */
  binDir?: string;
  /** Allowed for initdb, and again for the server to accept connections; 90 s by default. */
  startupTimeoutMs?: number;
}

export interface PostgresServer {
  host: string;
  port: number;
  /** The superuser ({@link POSTGRES_SUPERUSER}), trusted without a password. */
  user: string;
  /** The postmaster's pid. */
  pid: number;
  dataDir: string;
  logFile: string;
  /** Resolves when the server has exited, whoever stopped it. */
  exited: Promise<void>;
  /** A connection URL for one of its databases, as this superuser. */
  url(database: string): string;
  /** Fast shutdown (sessions are ended, a checkpoint written); resolves once the server has exited. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster, as a crash would: the next start recovers from the WAL. Resolves once it has exited. */
  kill(): Promise<void>;
}

/** The account the server runs as when we are root: initdb and postgres refuse to run as root. */
interface ServerAccount {
  uid: number;
  gid: number;
}

interface Context {
  binDir: string;
  dataDir: string;
  logFile: string;
  databases: string[];
  account: ServerAccount | undefined;
  timeoutMs: number;
  writeLog: (line: string) => void;
}

/** Its bind failure: the port was taken, possibly by another process between `freePort()` and now. */
class PortTakenError extends Error {}
/** Processes of an earlier server (killed, or another one running) still hold the data folder. */
class DataDirInUseError extends Error {}

/**
 * Starts PostgreSQL on 127.0.0.1 (and a unix socket in a folder of its own), initdb'ing `dataDir` first if it holds
 * no cluster yet; waits until it accepts connections and creates the databases named. Under root the server runs as
 * the `postgres` user, which then needs search permission on every folder above `dataDir`. The server runs under the
 * project's process guard, so it shuts down when this process dies.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const binDir = options.binDir ?? POSTGRES_BIN_DIR;
  if (!existsSync(path.join(binDir, 'postgres')) || !existsSync(path.join(binDir, 'initdb'))) {
    throw new Error(`PostgreSQL is not installed at ${binDir}: ${INSTALL_HINT}`);
  }
  const databases = options.databases ?? [];
  for (const name of databases) {
    if (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES || name.includes('\0')) {
      throw new Error(`"${name}" cannot be a PostgreSQL database name (1 to ${MAX_NAME_BYTES} bytes, no NUL)`);
    }
  }
  const dataDir = path.resolve(options.dataDir);
  const ctx: Context = {
    binDir,
    dataDir,
    logFile: path.join(dataDir, 'log', 'postgres.log'),
    databases,
    account: await serverAccount(),
    timeoutMs: options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS,
    writeLog: () => undefined,
  };
  await ensureCluster(ctx);
  ctx.writeLog = await openLog(ctx, options.log);
  return startWithRetries(ctx, options.port ?? 0);
}

/** Starts again on another free port when the one picked was taken, and after a killed server's processes go. */
async function startWithRetries(ctx: Context, fixedPort: number): Promise<PostgresServer> {
  const staleDeadline = Date.now() + STALE_SERVER_WAIT_MS;
  for (let portAttempt = 1; ;) {
    const port = fixedPort === 0 ? await freePort() : fixedPort;
    try {
      return await startOnPort(ctx, port);
    } catch (err) {
      if (err instanceof PortTakenError && fixedPort === 0 && portAttempt < PORT_ATTEMPTS) {
        portAttempt++;
        ctx.writeLog(`port ${port} was taken before postgres could bind it; trying another`);
      } else if (err instanceof DataDirInUseError && Date.now() < staleDeadline) {
        await sleep(STALE_SERVER_RETRY_MS);
      } else {
        throw err;
      }
    }
  }
}

/** The postgres user's ids when we are root, who must not run the server; none otherwise (it runs as us). */
async function serverAccount(): Promise<ServerAccount | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let entry: string;
  try {
    entry = (await execFileAsync('getent', ['passwd', 'postgres'])).stdout;
  } catch {
    throw new Error(`running as root, PostgreSQL runs as the postgres user, which does not exist: ${INSTALL_HINT}`);
  }
  const [, , uid, gid] = entry.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * `command` as the server's account. `env -C /` because initdb and postgres look for their own executable from the
 * current folder and complain when the postgres user cannot enter it (root's home, a 0700 temp folder).
 */
function asServerAccount(ctx: Context, command: string, args: string[]): [string, string[]] {
  return ctx.account ? ['env', ['-C', '/', 'runuser', '-u', 'postgres', '--', command, ...args]] : [command, args];
}

async function giveToServerAccount(ctx: Context, target: string): Promise<void> {
  if (ctx.account) await chown(target, ctx.account.uid, ctx.account.gid);
}

/** A permission failure under root most likely means the postgres user cannot reach the data folder. */
function accessHint(ctx: Context, output: string): string {
  return ctx.account && output.includes('Permission denied')
    ? `\n(the postgres user needs search permission on every folder above ${ctx.dataDir}, e.g. chmod o+x)`
    : '';
}

/**
 * initdb, unless `dataDir` already holds a cluster. It runs in a sibling folder renamed into place once complete, so
 * that an initdb cut short (a machine that went down) leaves no half a cluster for the next start to trip on.
 */
async function ensureCluster(ctx: Context): Promise<void> {
  if (existsSync(path.join(ctx.dataDir, 'PG_VERSION'))) return;
  if (existsSync(ctx.dataDir) && (await readdir(ctx.dataDir)).length > 0) {
    throw new Error(`${ctx.dataDir} is neither empty nor a PostgreSQL data folder (it has no PG_VERSION)`);
  }
  await mkdir(path.dirname(ctx.dataDir), { recursive: true });
  const staging = await mkdtemp(`${ctx.dataDir}.initdb-`);
  try {
    await giveToServerAccount(ctx, staging);
    const [command, args] = asServerAccount(ctx, path.join(ctx.binDir, 'initdb'), [
      ...['-D', staging, '-U', POSTGRES_SUPERUSER, '--auth=trust', '--no-instructions'],
      // UTF-8 whatever the environment's locale; C.UTF-8 (always there on Debian) for upper() and ILIKE beyond ASCII.
      ...['--encoding=UTF8', '--locale=C.UTF-8'],
    ]);
    try {
      await execFileAsync(command, args, { timeout: ctx.timeoutMs });
    } catch (err) {
      const { stdout, stderr, killed } = err as { stdout?: string; stderr?: string; killed?: boolean };
      const output = (stderr || stdout || String(err)).trim();
      const why = killed ? `did not finish within ${ctx.timeoutMs} ms` : 'failed';
      throw new Error(`initdb of ${ctx.dataDir} ${why}:\n${output}${accessHint(ctx, output)}`);
    }
    try {
      // rename(2) replaces an empty folder, such as one the caller made for the cluster.
      await rename(staging, ctx.dataDir);
    } catch (err) {
      // Another start on the same folder got there first; its cluster is as good as this one.
      if (!existsSync(path.join(ctx.dataDir, 'PG_VERSION'))) throw err;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The server's log file, appended to line by line in order. A write that fails (the folder removed by a test's
 * clean-up while the server still talks) is dropped: the lines also stay in the guard's memory for error messages.
 */
async function openLog(ctx: Context, log: ((line: string) => void) | undefined): Promise<(line: string) => void> {
  const logDir = path.dirname(ctx.logFile);
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  await (await open(ctx.logFile, 'a', 0o600)).close();
  await giveToServerAccount(ctx, logDir);
  await giveToServerAccount(ctx, ctx.logFile);
  let writes = Promise.resolve();
  return (line) => {
    log?.(line);
    writes = writes.then(() => appendFile(ctx.logFile, `${line}\n`)).catch(() => undefined);
  };
}

async function startOnPort(ctx: Context, port: number): Promise<PostgresServer> {
  // Its own socket folder, under the temp dir for a short path (the kernel caps socket paths at 107 bytes).
  const socketDir = await mkdtemp(path.join(os.tmpdir(), 'pg-'));
  await giveToServerAccount(ctx, socketDir);
  const [command, args] = asServerAccount(ctx, path.join(ctx.binDir, 'postgres'), [
    ...['-D', ctx.dataDir, '-p', String(port), '-k', socketDir, '-c', `listen_addresses=${HOST}`],
    // English messages whatever the cluster's settings: a failed start is told apart by them.
    ...['-c', 'lc_messages=C'],
  ]);
  const server = spawnGuarded('postgres', command, args, (line) => ctx.writeLog(line));
  let exited = false;
  void server.exited.then(() => (exited = true));
  try {
    await untilReady(ctx, server, port);
    const pid = await postmasterPid(ctx.dataDir);
    await createDatabases(port, ctx.databases);
    // Once the guard has exited, so has the postmaster, its descendant: the pid may be another process's by now.
    const shutdown = (signal: NodeJS.Signals) => stopServer(server, exited ? undefined : pid, signal, socketDir);
    return {
      host: HOST,
      port,
      user: POSTGRES_SUPERUSER,
      pid,
      dataDir: ctx.dataDir,
      logFile: ctx.logFile,
      exited: server.exited.then(() => undefined),
      url: (database) => `postgresql://${POSTGRES_SUPERUSER}@${HOST}:${port}/${encodeURIComponent(database)}`,
      stop: () => shutdown('SIGINT'),
      kill: () => shutdown('SIGKILL'),
    };
  } catch (err) {
    await abandon(server);
    await rm(socketDir, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves once this server (not another one that got the port) accepts connections; rejects if it exits first. */
async function untilReady(ctx: Context, server: GuardedProcess, port: number): Promise<void> {
  const failed = (why: string) =>
    `postgres on ${HOST}:${port} ${why}; its log is ${ctx.logFile}:\n${server.recentOutput()}` +
    accessHint(ctx, server.recentOutput());
  const abort = new AbortController();
  const diedFirst = server.exited.then((code) => {
    const output = server.recentOutput();
    if (output.includes('Address already in use')) throw new PortTakenError(failed('found its port taken'));
    if (/lock file "postmaster\.pid" already exists|pre-existing shared memory block/.test(output)) {
      throw new DataDirInUseError(failed(`found ${ctx.dataDir} still in use by another server's processes`));
    }
    throw new Error(failed(`exited (code ${code}) before it accepted connections`));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(failed(`did not accept connections within ${ctx.timeoutMs} ms`))),
      ctx.timeoutMs,
    );
  });
  const accepting = untilAccepting(port, ctx.dataDir, abort.signal);
  for (const promise of [diedFirst, accepting]) promise.catch(() => undefined);
  try {
    await Promise.race([accepting, diedFirst, timeout]);
  } finally {
    abort.abort();
    clearTimeout(timer);
  }
}

/**
 * Connects until a connection succeeds and the server says it serves `dataDir`: the proof that it is ours. Until
 * then connections are refused, or answered "the database system is starting up" during crash recovery.
 */
async function untilAccepting(port: number, dataDir: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const client = probeClient(port, 'postgres');
    let connected = false;
    try {
      await client.connect();
      connected = true;
      const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
      if (rows[0]?.data_directory === dataDir) return;
    } catch {
      // Not ready yet; the guard's exit or the timeout ends the wait.
    } finally {
      // Only a connected client: `end()` on one whose connection failed can wait for an 'end' that already came.
      if (connected) await client.end().catch(() => undefined);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function probeClient(port: number, database: string): Client {
  const client = new Client({
    host: HOST,
    port,
    user: POSTGRES_SUPERUSER,
    database,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
  });
  // A connection the server drops (it shuts down) must not crash the process as an unhandled 'error'.
  client.on('error', () => undefined);
  return client;
}

/** The first line of postmaster.pid, which the postmaster writes before it accepts connections. */
async function postmasterPid(dataDir: string): Promise<number> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${pidFile} does not start with a pid`);
  return pid;
}

async function createDatabases(port: number, databases: string[]): Promise<void> {
  if (databases.length === 0) return;
  const client = probeClient(port, 'postgres');
  await client.connect();
  try {
    for (const name of databases) {
      const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (existing.rowCount) continue;
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (err) {
        // 42P04 duplicate_database: another process created it meanwhile.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Signals the postmaster itself, not the guard: under root the guard's SIGTERM reaches postgres through runuser,
 * which also sends SIGKILL two seconds later, and SIGTERM is PostgreSQL's smart shutdown, which waits for every
 * session to end. SIGINT is its fast shutdown.
 */
async function stopServer(
  server: GuardedProcess,
  pid: number | undefined,
  signal: NodeJS.Signals,
  socketDir: string,
): Promise<void> {
  if (pid !== undefined) signalProcess(pid, signal);
  const timer = pid === undefined ? undefined : setTimeout(() => signalProcess(pid, 'SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await server.exited;
  } finally {
    clearTimeout(timer);
  }
  // Closes the guard's stdin, which ends its watcher.
  await server.stop();
  await rm(socketDir, { recursive: true, force: true });
}

/**
 * A server that failed to start, whose postmaster pid may not be known yet: the guard's SIGTERM (a smart shutdown,
 * with no sessions open), and SIGKILL to the guard's process group, where the postmaster runs, if it hangs.
 */
async function abandon(server: GuardedProcess): Promise<void> {
  const { pid } = server;
  const timer = setTimeout(() => pid !== undefined && signalProcess(-pid, 'SIGKILL'), ABANDON_GRACE_MS);
  try {
    await server.stop();
  } finally {
    clearTimeout(timer);
  }
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
