import { fork, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from './config';
import { superviseLocalEngine } from './asr/local-engine';
import { freePort } from './free-port';
import { ensureDevelopmentCredentials, type DevelopmentKey } from './dev-credentials';
import { createLogger, type Logger } from './logger';
import { stopChild } from './process-lifecycle';
import { startDevServer, type DevServer } from './temporal/dev-server';

const LOCAL_ENGINE_TIMEOUT_MS = 180_000;

/**
 * `npm start`: the whole service on one machine. Runs the embedded Temporal dev server (unless TEMPORAL_ADDRESS
 * is set), an ASR (unless ASR_URL is set: the offline engine, or the simulator), one worker and the API, each in
 * its own process, and stops them in order on Ctrl-C or SIGTERM. If this process is killed outright, its children
 * notice and stop too.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('launcher', config.logLevel);
  await seedExampleAudio(config.audio.root, logger);
  const developmentKeys = await ensureDevelopmentCredentials(config, process.env, logger);

  const children: ChildProcess[] = [];
  let devServer: DevServer | undefined;
  let localEngine: { stop(): Promise<void> } | undefined;
  let stopping = false;
  const stopAll = async (exitCode: number): Promise<never> => {
    stopping = true;
    // Reverse order: the API stops taking jobs first, the dev server goes last.
    for (const child of [...children].reverse()) await stopChild(child);
    await localEngine?.stop();
    await devServer?.stop();
    process.exit(exitCode);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  const env: NodeJS.ProcessEnv = { ...process.env };
  if (config.temporal.embedded) {
    const dbFilename = path.join(config.dataDir, 'temporal.sqlite');
    logger.info({ dbFilename }, 'starting the embedded Temporal dev server');
    devServer = await startDevServer({
      toolsDir: config.temporal.toolsDir,
      dbFilename,
      port: config.temporal.devServerPort,
      uiPort: config.temporal.devServerUiPort,
      namespace: config.temporal.namespace,
      startupTimeoutMs: config.temporal.startupTimeoutMs,
      onOutput: (line) => logger.debug({ devServer: line }, 'dev server output'),
    });
    env.TEMPORAL_ADDRESS = devServer.address;
    void devServer.exited.then((code) => {
      if (stopping) return;
      logger.error({ code }, 'the Temporal dev server exited');
      void stopAll(1);
    });
  }

  const start = async (name: string, script: string): Promise<Record<string, string>> => {
    const { child, ready } = startChild(path.join(__dirname, script), env, logger, name);
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ code, signal }, `${name} exited`);
      void stopAll(1);
    });
    return ready;
  };

  if (!config.asr.url && config.asrEngine.kind === 'simulator') {
    const { url } = await start('asr-simulator', 'asr/asr-simulator-main.js');
    env.ASR_URL = url;
  } else if (!config.asr.url) {
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
      onGiveUp: (reason) => {
        if (stopping) return;
        logger.error({ reason }, 'the local ASR engine cannot be kept running');
        void stopAll(1);
      },
    });
    localEngine = engine;
    env.ASR_URL = engine.url;
    // The engine transcribes a few chunks at a time; the workers send no more than that, and the rest wait in
    // Temporal's task queue rather than in the engine, where they would run into the ASR timeout.
    env.ASR_MAX_CONCURRENT_CALLS ??= String(config.asrEngine.concurrency);
    // Whisper tiny.en runs at about a tenth of real time on 2 cores: a 5-minute chunk takes 30 s or more, more on
    // a busy machine, so the default minute of ASR timeout is too tight.
    env.ASR_TIMEOUT_MS ??= String(LOCAL_ENGINE_TIMEOUT_MS);
  }
  // Operators find the worker's metrics in the banner; a fixed address from the environment is kept.
  env.WORKER_METRICS_ADDRESS ??= `127.0.0.1:${await freePort()}`;
  await start('worker', 'worker-main.js');
  const { url: apiUrl } = await start('api', 'server.js');

  printBanner(config, developmentKeys, {
    apiUrl: apiUrl ?? '',
    uiUrl: devServer?.uiUrl,
    asrUrl: env.ASR_URL ?? '',
    workerMetricsUrl: `http://${env.WORKER_METRICS_ADDRESS}/metrics`,
  });
}

/** On a first start (an empty audio root), copies the example recordings in so the banner's curl works at once. */
async function seedExampleAudio(audioRoot: string, logger: Logger): Promise<void> {
  await mkdir(audioRoot, { recursive: true });
  if ((await readdir(audioRoot)).length > 0) return;
  await cp(path.join(__dirname, '..', '..', 'examples', 'audio'), audioRoot, { recursive: true });
  logger.info({ audioRoot }, 'copied the example recordings into the empty audio root');
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
