import { Runtime } from '@temporalio/worker';
import path from 'node:path';
import { ConfigError, loadConfig } from './config';
import { loadPayloadCodec } from './codec/load-payload-codec';
import { createLogger, temporalLoggerFor } from './logger';
import { announceReady, onShutdown } from './process-lifecycle';
import { connectPreparedClient } from './temporal/prepare-namespace';
import { connectWorker } from './temporal/wait-for-temporal';
import { createTranscriptionWorker } from './worker';

/** Built by `npm run build` next to the compiled code, so a worker starts without bundling workflows itself. */
const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', 'workflow-bundle.js');

/** The worker process: `npm run worker`. Several may run at once on one task queue. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  if (!config.asr.url) throw new ConfigError(['ASR_URL: required by the worker (npm start sets it to the simulator)']);
  const codec = await loadPayloadCodec(config);
  Runtime.install({ logger: temporalLoggerFor(logger), shutdownSignals: [] });

  const { temporal } = config;
  await (await connectPreparedClient(config)).close();

  const connection = await connectWorker({ address: temporal.address, timeoutMs: temporal.startupTimeoutMs });
  try {
    const worker = await createTranscriptionWorker({
      connection,
      config,
      asrUrl: config.asr.url,
      workflowBundle: { codePath: WORKFLOW_BUNDLE },
      codec,
    });
    const running = worker.run();
    onShutdown(
      async () => {
        // Stop polling, let running chunks finish; what does not finish in time Temporal retries elsewhere.
        worker.shutdown();
        await running;
      },
      (message) => logger.info(message),
    );
    logger.info({ taskQueue: temporal.taskQueue, temporal: temporal.address, asr: config.asr.url }, 'worker polling');
    announceReady({ taskQueue: temporal.taskQueue });
    await running;
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  createLogger('worker', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
