import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../process/free-port';
import { spawnGuarded, type GuardedProcess } from '../process/guarded-process';

/** s3proxy accepts any region in a signature; this is the one the AWS SDK and the service are configured with. */
const REGION = 'us-east-1';

const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const GROUP_EXIT_WAIT_MS = 5_000;
const GROUP_EXIT_POLL_MS = 50;
const PORT_ATTEMPTS = 5;
const POLL_INTERVAL_MS = 200;

export interface S3ProxyOptions {
  /** Where `npm run setup` installed s3proxy (`<toolsDir>/s3proxy/s3proxy.jar`). */
  toolsDir: string;
  /** The folder the objects are kept in, one subfolder per bucket; created if needed. */
  basedir: string;
  /** The loopback port; 0 picks a free one. */
  port: number;
  /** Created at start unless it exists. */
  bucket: string;
  /** Generated when not given (a pair for this run only). */
  credentials?: S3Credentials;
  /** Defaults to a minute: a JVM on a busy 2-core machine can take 10 s and more. */
  startupTimeoutMs?: number;
  onOutput?: (line: string) => void;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Proxy extends S3Credentials {
  endpoint: string;
  region: string;
  bucket: string;
  /** The shell guard's pid, which is also the id of the process group s3proxy runs in. */
  pid: number | undefined;
  /** Resolves when s3proxy has exited, whoever stopped it. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period; resolves once none of its processes is left. */
  stop(): Promise<void>;
}

/** A fresh random key pair in the shapes AWS uses (20-character id, 40-character secret). */
export function generateS3Credentials(): S3Credentials {
  return {
    accessKeyId: randomBytes(10).toString('hex').toUpperCase(),
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
}

/** The settings that point the service's audio store at this server, as environment variables. */
export function s3ServiceEnv(s3: S3Proxy): Record<string, string> {
  return {
    AUDIO_STORE: `s3://${s3.bucket}/`,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  };
}

/** The jar `scripts/install-s3proxy.sh` installs (it pins the version). */
function s3proxyJar(toolsDir: string): string {
  return path.join(toolsDir, 's3proxy', 's3proxy.jar');
}

/** Its bind failure: the port was taken, possibly by another server between `freePort()` and now. */
class PortTakenError extends Error {}

/**
 * Starts s3proxy (filesystem storage under `basedir`) on loopback, waits until it answers signed S3 requests, and
 * creates the bucket. With port 0 it picks a free port and, if another process takes that port before s3proxy binds
 * it, starts again on a fresh one. The server runs under the project's process guard, so it dies with this process.
 */
export async function startS3Proxy(options: S3ProxyOptions): Promise<S3Proxy> {
  const jar = s3proxyJar(options.toolsDir);
  if (!existsSync(jar)) throw new Error(`s3proxy is not installed at ${jar}: run npm run setup`);
  await mkdir(options.basedir, { recursive: true });
  const credentials = options.credentials ?? generateS3Credentials();
  for (let attempt = 1; ; attempt++) {
    const port = options.port === 0 ? await freePort() : options.port;
    try {
      return await startOnPort(options, jar, port, credentials);
    } catch (err) {
      if (!(err instanceof PortTakenError) || options.port !== 0 || attempt >= PORT_ATTEMPTS) throw err;
      options.onOutput?.(`port ${port} was taken before s3proxy could bind it; trying another`);
    }
  }
}

async function startOnPort(
  options: S3ProxyOptions,
  jar: string,
  port: number,
  credentials: S3Credentials,
): Promise<S3Proxy> {
  const endpoint = `http://127.0.0.1:${port}`;
  const { propertiesDir, propertiesFile } = await writeProperties(options, endpoint, credentials);
  const { server, listening } = spawnS3Proxy(jar, propertiesFile, port, options.onOutput);

  const timeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const client = new S3Client({
    endpoint,
    region: REGION,
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  });
  const abort = new AbortController();
  const diedFirst = server.exited.then((code) => {
    const output = server.recentOutput();
    if (output.includes('Failed to bind')) throw new PortTakenError(`port ${port} is taken:\n${output}`);
    throw new Error(`s3proxy exited before it was ready (code ${code}):\n${output}`);
  });
  diedFirst.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`s3proxy did not answer on ${endpoint} within ${timeoutMs} ms:\n${server.recentOutput()}`)),
      timeoutMs,
    );
  });
  const ready = (async () => {
    await listening;
    await untilAnswers(client, abort.signal);
    await createBucket(client, options.bucket);
  })();
  ready.catch(() => undefined);

  try {
    await Promise.race([ready, diedFirst, timeout]);
  } catch (err) {
    await stopWithGrace(server);
    throw err;
  } finally {
    abort.abort();
    clearTimeout(timer);
    client.destroy();
    // s3proxy has read its properties by now, or never will.
    await rm(propertiesDir, { recursive: true, force: true });
  }
  return {
    endpoint,
    region: REGION,
    ...credentials,
    bucket: options.bucket,
    pid: server.pid,
    exited: server.exited,
    stop: () => stopWithGrace(server),
  };
}

/** s3proxy's settings; the secret goes in a file only this user can read, never on a command line `ps` shows. */
async function writeProperties(
  options: S3ProxyOptions,
  endpoint: string,
  credentials: S3Credentials,
): Promise<{ propertiesDir: string; propertiesFile: string }> {
  const propertiesDir = await mkdtemp(path.join(os.tmpdir(), 's3proxy-'));
  const propertiesFile = path.join(propertiesDir, 's3proxy.properties');
  await writeFile(
    propertiesFile,
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${propertiesValue(credentials.accessKeyId)}`,
      `s3proxy.credential=${propertiesValue(credentials.secretAccessKey)}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${propertiesValue(path.resolve(options.basedir))}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { propertiesDir, propertiesFile };
}

/**
 * Starts the JVM under the guard; `listening` resolves on Jetty's line saying it listens on our port, the proof
 * that this process, and not another server that got the port, answers there.
 */
function spawnS3Proxy(jar: string, propertiesFile: string, port: number, onOutput?: (line: string) => void) {
  const boundLine = `{127.0.0.1:${port}}`;
  let bound!: () => void;
  const listening = new Promise<void>((resolve) => (bound = resolve));
  const server = spawnGuarded(
    's3proxy',
    'java',
    [
      // s3proxy's logback.xml reads LOG_LEVEL, which is also this service's own (pino) setting: pin its levels so
      // the service's value neither floods nor silences it. System properties win over the environment there.
      '-DLOG_LEVEL=info',
      '-DJETTY_LOG_LEVEL=info',
      '-DLOG_APPENDER=STDOUT',
      // logback's own start-up report: thirty lines of configuration details on every start.
      '-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener',
      '-jar',
      jar,
      '--properties',
      propertiesFile,
    ],
    (line) => {
      if (line.includes('Started') && line.includes('ServerConnector') && line.includes(boundLine)) bound();
      onOutput?.(line);
    },
  );
  return { server, listening };
}

/**
 * A value for a Java properties file, which is read as ISO-8859-1 and treats backslashes and leading blanks
 * specially: everything but plain printable ASCII goes in as a \uXXXX escape.
 */
function propertiesValue(value: string): string {
  return value.replace(/[^\x21-\x5b\x5d-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** ListBuckets until one succeeds: a signed request, so it also proves the keys are the ones s3proxy checks. */
async function untilAnswers(client: S3Client, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    try {
      await client.send(new ListBucketsCommand({}), { abortSignal: signal });
      return;
    } catch {
      await sleep(POLL_INTERVAL_MS);
    }
  }
}

async function createBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof Error && err.name === 'BucketAlreadyOwnedByYou')) throw err;
  }
}

/**
 * The guard sends SIGTERM when its stdin closes; a JVM stuck in its shutdown hooks gets SIGKILL, sent to the
 * whole process group (the guard runs detached, so the group is the guard, s3proxy and the guard's watcher).
 */
async function stopWithGrace(server: GuardedProcess): Promise<void> {
  const timer = setTimeout(() => signalGroup(server.pid, 'SIGKILL'), STOP_GRACE_MS);
  try {
    await server.stop();
  } finally {
    clearTimeout(timer);
  }
  // The guard exits as soon as its child does, but a JVM killed above, or the guard's watcher, can outlive it by a
  // moment; bounded, as an orphan is only reaped if something (PID 1) reaps it.
  const deadline = Date.now() + GROUP_EXIT_WAIT_MS;
  while (signalGroup(server.pid, 0) && Date.now() < deadline) await sleep(GROUP_EXIT_POLL_MS);
}

/** Sends `signal` to every process in the group; false when none is left. */
function signalGroup(pgid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
