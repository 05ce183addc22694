import type { PayloadCodec } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { hostname } from 'node:os';
import path from 'node:path';
import { AsrCallSlots } from '../asr/asr-call-slots';
import { loadConfig, type WorkerConfig } from '../config/config';
import { loadPayloadCodec } from '../codec/load-payload-codec';
import { createLogger, temporalLoggerFor, type Logger } from '../logger';
import { announceReady, onShutdown } from '../process/process-lifecycle';
import { FLEET_COUNT_INTERVAL_MS, watchLiveWorkers } from '../temporal/live-workers';
import { temporalConnectionOptions, type TemporalConnectionOptions } from '../temporal/connection-options';
import { connectPreparedClient } from '../temporal/prepare-namespace';
import { ensureMaintenanceSchedules } from '../temporal/maintenance-schedules';
import { connectWorker } from '../temporal/wait-for-temporal';
import { describeJobsDatabase, openJobsDatabase } from '../jobs-database/open-jobs-database';
import { createTranscriptionWorkers } from './compose';

/** Built by `npm run build` next to the compiled code, so a worker starts without bundling workflows itself. */
const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', '..', 'workflow-bundle.js');

/** Temporal's native runtime, once per process: its log goes to ours, its metrics to Prometheus if asked. */
function installRuntime(config: WorkerConfig, logger: Logger): void {
  const { metricsAddress } = config.worker;
  const prometheus = (bindAddress: string) => ({
    bindAddress,
    countersTotalSuffix: true,
    useSecondsForDurations: true,
  });
  Runtime.install({
    logger: temporalLoggerFor(logger),
    shutdownSignals: [],
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: prometheus(metricsAddress) } } } : {}),
  });
}

/** The namespace ready (or checked) and the housekeeping Schedules in place, over a connection of its own. */
async function prepareTemporal(
  config: WorkerConfig,
  connectionOptions: TemporalConnectionOptions,
  codec: PayloadCodec,
): Promise<void> {
  const { temporal } = config;
  const preparing = await connectPreparedClient(config, connectionOptions);
  try {
    await ensureMaintenanceSchedules(preparing, {
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      maintenanceTaskQueue: temporal.maintenanceTaskQueue,
      uploadExpiryEveryMinutes: config.audio.uploadExpiryEveryMinutes,
      reconcileEveryMinutes: config.jobsDatabase.reconcileEveryMinutes,
      codec,
    });
  } finally {
    await preparing.close();
  }
}

/** The worker process: `npm run worker`. Several may run at once on one task queue. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { process: 'worker' });
  const logger = createLogger('worker', config.logLevel);
  const codec = await loadPayloadCodec(config, logger);
  installRuntime(config, logger);

  const { temporal } = config;
  const connectionOptions = await temporalConnectionOptions(temporal);
  await prepareTemporal(config, connectionOptions, codec);

  const { database: records } = await openJobsDatabase(config.jobsDatabase, codec);
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
      everyMs: FLEET_COUNT_INTERVAL_MS,
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
      records,
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
      {
        taskQueue: temporal.taskQueue,
        temporal: temporal.address,
        asr: config.asr.url,
        asrCalls: asrSlots.share,
        jobsDatabase: describeJobsDatabase(config.jobsDatabase),
      },
      'worker polling',
    );
    announceReady({ taskQueue: temporal.taskQueue });
    await running;
  } finally {
    stopWatching?.();
    await connection.close();
    await records.close();
  }
}

main().catch((err: unknown) => {
  createLogger('worker', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
