import { fork, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { childEnvironment, type ChildSettings } from '../config/child-environment';
import { isSet, loadConfig, type Config } from '../config/config';
import { SETTINGS } from '../config/settings';
import { superviseLocalEngine } from '../asr/local-engine';
import { freePort } from '../process/free-port';
import { ensureDevelopmentCredentials, type DevelopmentKey } from './dev-credentials';
import { createLogger, type Logger } from '../logger';
import { stopChild } from '../process/process-lifecycle';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { userSpace } from '../storage/audio-paths';
import { createAudioObjects } from '../storage/create-audio-store';

/**
 * The ASR timeout the worker gets for the local engine when ASR_TIMEOUT_MS is unset. Whisper tiny.en runs at about
 * a tenth of real time on 2 cores: a 5-minute chunk takes 30 s or more, more on a busy machine, so the default
 * minute is too tight and chunks would time out, be retried and queue up again in the engine.
 */
const LOCAL_ENGINE_TIMEOUT_MS = 180_000;

/**
 * `npm start`: the whole service on one machine. Runs the embedded Temporal dev server (unless TEMPORAL_ADDRESS
 * is set), an ASR (unless ASR_URL is set: the offline engine, or the simulator), one worker and the API, each in
 * its own process, and stops them in order on Ctrl-C or SIGTERM. If this process is killed outright, its children
 * notice and stop too. What the children need from it (the addresses of what it started, the settings that suit
 * them) it passes as explicit values; its own environment is never changed.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('launcher', config.logLevel);
  const developmentKeys = await ensureDevelopmentCredentials(config, process.env, logger);
  await seedExampleAudio(config, developmentKeys, logger);

  const supervisor = new Supervisor(logger);
  const devServer = config.temporal.embedded ? await startEmbeddedTemporal(config, supervisor, logger) : undefined;
  const asr = await startAsr(config, supervisor, logger, process.env);
  // Operators find the worker's metrics in the banner; a fixed address from the environment is kept.
  const workerMetricsAddress = config.worker.metricsAddress ?? `127.0.0.1:${await freePort()}`;
  const temporalUiPort = devServer?.uiUrl === undefined ? undefined : Number(new URL(devServer.uiUrl).port);
  const env = childEnvironment(process.env, {
    temporalAddress: devServer?.address,
    temporalUiPort,
    ...asr,
    workerMetricsAddress,
  });
  await supervisor.start('worker', 'worker/main.js', env);
  const { url: apiUrl } = await supervisor.start('api', 'api/main.js', env);

  printBanner(config, developmentKeys, {
    apiUrl: apiUrl ?? '',
    uiUrl: devServer?.uiUrl,
    asrUrl: asr.asrUrl ?? '',
    workerMetricsUrl: `http://${workerMetricsAddress}/metrics`,
  });
}

/**
 * What `npm start` runs. When one part ends on its own, or on Ctrl-C or SIGTERM, every part is stopped in the
 * reverse order of its start: the API stops taking jobs first, the dev server goes last.
 */
class Supervisor {
  private readonly stops: (() => Promise<void>)[] = [];
  private stopping = false;

  constructor(private readonly logger: Logger) {
    process.once('SIGINT', () => void this.stopAll(0));
    process.once('SIGTERM', () => void this.stopAll(0));
  }

  /** Takes a part that has started, to stop it with the others. */
  adopt(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  /** A part ended on its own: unless everything is stopping anyway, says so and stops the rest. */
  fail(details: Record<string, unknown>, message: string): void {
    if (this.stopping) return;
    this.logger.error(details, message);
    void this.stopAll(1);
  }

  /** Forks one of the service's processes; resolves with what it announces once it is ready. */
  start(name: string, script: string, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
    const { child, ready } = startChild(path.join(__dirname, '..', script), env, this.logger, name);
    this.adopt(() => stopChild(child));
    child.once('exit', (code, signal) => this.fail({ code, signal }, `${name} exited`));
    return ready;
  }

  private async stopAll(exitCode: number): Promise<never> {
    this.stopping = true;
    for (const stop of [...this.stops].reverse()) await stop();
    process.exit(exitCode);
  }
}

async function startEmbeddedTemporal(config: Config, supervisor: Supervisor, logger: Logger): Promise<DevServer> {
  const dbFilename = path.join(config.dataDir, 'temporal.sqlite');
  logger.info({ dbFilename }, 'starting the embedded Temporal dev server');
  const devServer = await startDevServer({
    toolsDir: config.temporal.toolsDir,
    dbFilename,
    port: config.temporal.devServerPort,
    uiPort: config.temporal.devServerUiPort,
    namespace: config.temporal.namespace,
    startupTimeoutMs: config.temporal.startupTimeoutMs,
    onOutput: (line) => logger.debug({ devServer: line }, 'dev server output'),
    onRetry: (reason) => logger.warn({ reason }, 'the dev server lost a port it picked; starting it on fresh ones'),
  });
  supervisor.adopt(() => devServer.stop());
  void devServer.exited.then((code) => supervisor.fail({ code }, 'the Temporal dev server exited'));
  return devServer;
}

/**
 * The ASR the worker calls: ASR_URL's, or one started here: the simulator, or the local engine with the call
 * settings that suit it. `env` is the launcher's own: the simulator needs nothing more.
 */
async function startAsr(
  config: Config,
  supervisor: Supervisor,
  logger: Logger,
  env: NodeJS.ProcessEnv,
): Promise<ChildSettings> {
  if (config.asr.url) return { asrUrl: config.asr.url };
  if (config.asrEngine.kind === 'simulator') {
    const { url } = await supervisor.start('asr-simulator', 'asr/asr-simulator-main.js', env);
    return { asrUrl: url };
  }
  const engine = await startLocalEngine(config, supervisor, logger);
  return { asrUrl: engine.url, ...localEngineCallSettings(config, env) };
}

async function startLocalEngine(config: Config, supervisor: Supervisor, logger: Logger): Promise<{ url: string }> {
  logger.info('starting the local ASR engine (Whisper tiny.en)');
  const engine = await superviseLocalEngine({
    toolsDir: config.temporal.toolsDir,
    port: config.asrEngine.port,
    concurrency: config.asrEngine.concurrency,
    queue: config.asrEngine.queue,
    threads: config.asrEngine.threads,
    maxChunkSeconds: config.audio.maxChunkSeconds,
    startupTimeoutMs: config.temporal.startupTimeoutMs,
    onOutput: (line) => logger.debug({ asrEngine: line }, 'ASR engine output'),
    onRestart: (code) => logger.warn({ code }, 'the local ASR engine exited; restarting it'),
    onGiveUp: (reason) => supervisor.fail({ reason }, 'the local ASR engine cannot be kept running'),
  });
  supervisor.adopt(() => engine.stop());
  return engine;
}

/** How the worker calls the local engine, where the operator has not said otherwise. */
function localEngineCallSettings(config: Config, env: NodeJS.ProcessEnv): ChildSettings {
  return {
    asrTimeoutMs: isSet(env, SETTINGS.asr.timeoutMs) ? config.asr.timeoutMs : LOCAL_ENGINE_TIMEOUT_MS,
    // The engine transcribes a few chunks at a time; the workers send no more than that, and the rest wait in
    // Temporal's task queue rather than in the engine, where they would run into the ASR timeout.
    asrMaxConcurrentCalls: isSet(env, SETTINGS.asr.maxConcurrentCalls)
      ? config.asr.maxConcurrentCalls
      : config.asrEngine.concurrency,
  };
}

/**
 * On a first start, copies the example recordings into each development user's empty audio space (or the empty
 * shared root), so the banner's curl works at once, on whichever store is configured.
 */
async function seedExampleAudio(config: Config, keys: DevelopmentKey[], logger: Logger): Promise<void> {
  const objects = createAudioObjects(config.audio);
  const examples = path.join(__dirname, '..', '..', '..', 'examples', 'audio');
  const files = (await readdir(examples, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  const spaces = config.audio.layout === 'shared' ? [null] : [...new Set(keys.map((key) => userSpace(key.userId)))];
  try {
    for (const space of spaces) {
      if ((await objects.list(space, { prefix: '', limit: 1 })).files.length > 0) continue;
      for (const file of files) {
        const source = path.join(file.parentPath, file.name);
        const name = path.relative(examples, source).split(path.sep).join('/');
        const copy = await copyToSpool(config, source);
        try {
          await objects.putFile({ space, path: name }, copy, (await stat(source)).size);
        } finally {
          await rm(copy, { force: true });
        }
      }
      logger.info({ space: space ?? '(shared root)' }, 'copied the example recordings into an empty audio space');
    }
  } finally {
    await objects.close();
  }
}

/** A copy of an example to hand to the store: a local store moves the files it is given into place. */
async function copyToSpool(config: Config, source: string): Promise<string> {
  await mkdir(config.audio.spoolDir, { recursive: true });
  const copy = path.join(config.audio.spoolDir, `example-${process.pid}-${path.basename(source)}`);
  await cp(source, copy);
  return copy;
}

function startChild(
  modulePath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  name: string,
): { child: ChildProcess; ready: Promise<Record<string, string>> } {
  const child = fork(modulePath, [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Own process group: Ctrl-C reaches only this launcher, which then stops the children in order.
    detached: true,
  });
  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    child.on('message', (message: { type?: string } & Record<string, string>) => {
      if (message.type === 'ready') resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited before it was ready (code ${code})`)));
  });
  logger.debug({ pid: child.pid }, `${name} started`);
  return { child, ready };
}

function printBanner(
  config: Config,
  keys: DevelopmentKey[],
  urls: { apiUrl: string; uiUrl?: string; asrUrl: string; workerMetricsUrl: string },
): void {
  const user = keys.find((key) => key.role === 'user');
  const auth = user ? `-H 'authorization: Bearer ${user.key}' ` : '';
  const lines = [
    '',
    `  Transcription API   ${urls.apiUrl}   (API docs: ${urls.apiUrl}/docs)`,
    `  Temporal Web UI     ${urls.uiUrl ?? `(external Temporal at ${config.temporal.address})`}`,
    ...(urls.uiUrl
      ? [`  Decode job data     sign this browser in at ${urls.apiUrl}/codec/session with the operator key`]
      : []),
    `  ASR                 ${urls.asrUrl}${asrKind(config)}`,
    `  Audio root          ${config.audio.root}`,
    `  Metrics             ${urls.apiUrl}/metrics (operator key)   worker: ${urls.workerMetricsUrl}`,
    ...keys.map((key) => `  API key ${`${key.userId} (${key.role})`.padEnd(16)} ${key.key}`),
    ...(config.auth.methods.includes('none') ? ['  Authentication      OFF (AUTH_METHODS=none)'] : []),
    '',
    `  curl -s -X POST ${urls.apiUrl}/transcribe ${auth}-H 'content-type: application/json' \\`,
    `       -d '{"audioChunkPaths":["example/part-1.wav","example/part-2.wav","example/part-3.wav"]}'`,
    ...(user ? [`  curl -s ${urls.apiUrl}/transcript/<jobId> ${auth.trim()}`] : []),
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function asrKind(config: Config): string {
  if (config.asr.url) return '';
  return config.asrEngine.kind === 'simulator'
    ? '  (simulator: made-up text)'
    : '  (local engine: Whisper tiny.en, offline)';
}

main().catch((err: unknown) => {
  createLogger('launcher', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
