import { loadConfig } from '../config/config';
import { createLogger } from '../logger';
import { announceReady, onShutdown } from '../process/process-lifecycle';
import { startAsrSimulator } from './asr-simulator';

/** The ASR simulator as a process of its own: `npm run asr-simulator`, started by `npm start` when ASR_URL is unset. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('asr-simulator', config.logLevel);
  const simulator = await startAsrSimulator({
    host: config.asrSimulator.host,
    port: config.asrSimulator.port,
    latency: config.asrSimulator.latency,
    failureRate: config.asrSimulator.failureRate,
    failPattern: config.asrSimulator.failPattern,
  });
  logger.info({ url: simulator.url, latency: config.asrSimulator.latency }, 'ASR simulator listening');
  announceReady({ url: simulator.url });
  onShutdown(
    () => simulator.close(),
    (message) => logger.info(message),
  );
}

main().catch((err: unknown) => {
  createLogger('asr-simulator', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
