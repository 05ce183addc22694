import { Runtime } from '@temporalio/worker';
import { hostname } from 'node:os';
import path from 'node:path';
import { AsrCallSlots } from './asr/asr-call-slots';
import { ConfigError, loadConfig } from './config';
import { loadPayloadCodec } from './codec/load-payload-codec';
import { createLogger, temporalLoggerFor } from './logger';
import { announceReady, onShutdown } from './process-lifecycle';
import { watchLiveWorkers } from './temporal/live-workers';
import { temporalConnectionOptions } from './temporal/connection-options';
import { connectPreparedClient } from './temporal/prepare-namespace';
import { connectWorker } from './temporal/wait-for-temporal';
import { createTranscriptionWorkers } from './worker';

/** Built by `npm run build` next to the compiled code, so a worker starts without bundling workflows itself. */
const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', 'workflow-bundle.js');
/** How often the worker counts its peers to recompute its share of the fleet's ASR limit. */
const FLEET_WATCH_INTERVAL_MS = 5000;

/** The worker process: `npm run worker`. Several may run at once on one task queue. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  if (!config.asr.url) throw new ConfigError(['ASR_URL: required by the worker (npm start sets it to the simulator)']);
  const codec = await loadPayloadCodec(config);
  Runtime.install({
    logger: temporalLoggerFor(logger),
    shutdownSignals: [],
    ...(config.worker.metricsAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: config.worker.metricsAddress,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });

  const { temporal } = config;
  const connectionOptions = await temporalConnectionOptions(temporal);
  await (await connectPreparedClient(config, connectionOptions)).close();

  const connection = await connectWorker({ ...connectionOptions, timeoutMs: temporal.startupTimeoutMs });
  const identity = `${process.pid}@${hostname()}`;
  const asrSlots = new AsrCallSlots({
    perWorker: config.worker.maxConcurrentActivities,
    fleet: config.asr.maxConcurrentCalls,
  });
  let stopWatching: (() => void) | undefined;
  try {
    stopWatching = await watchLiveWorkers({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      identity,
      everyMs: FLEET_WATCH_INTERVAL_MS,
      onCount: (workers) => {
        const before = asrSlots.share;
        asrSlots.setLiveWorkers(workers);
        if (asrSlots.share !== before) logger.info({ workers, asrCalls: asrSlots.share }, 'ASR share changed');
      },
    });
    const workers = await createTranscriptionWorkers({
      connection,
      config,
      asrUrl: config.asr.url,
      workflowBundle: { codePath: WORKFLOW_BUNDLE },
      codec,
      asrSlots,
      identity,
    });
    const running = Promise.all(workers.map((worker) => worker.run()));
    onShutdown(
      async () => {
        // Stop polling, let running chunks finish; what does not finish in time Temporal retries elsewhere.
        for (const worker of workers) worker.shutdown();
        await running;
      },
      (message) => logger.info(message),
    );
    logger.info(
      { taskQueue: temporal.taskQueue, temporal: temporal.address, asr: config.asr.url, asrCalls: asrSlots.share },
      'worker polling',
    );
    announceReady({ taskQueue: temporal.taskQueue });
    await running;
  } finally {
    stopWatching?.();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  createLogger('worker', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
