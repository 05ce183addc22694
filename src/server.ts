import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { announceReady, onShutdown } from './process-lifecycle';
import { connectJobs } from './temporal-client';

/** Every answer within 15 s: Temporal calls get this budget, leaving room to render the reply. */
const REQUEST_BUDGET_MS = 14_000;

/** The API process: `npm run api`. Several may run at once against one Temporal cluster. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('api', config.logLevel);
  const { client, jobs } = await connectJobs(config);
  const app = createApp({
    jobs,
    maxChunksPerJob: config.audio.maxChunksPerJob,
    logger,
    withinDeadline: (fn) => client.withDeadline(Date.now() + REQUEST_BUDGET_MS, fn),
  });
  const server = app.listen(config.api.port, config.api.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.api.host}:${port}`;
  logger.info({ url, temporal: config.temporal.address, namespace: config.temporal.namespace }, 'API listening');
  announceReady({ url });

  onShutdown(
    async () => {
      // Stop accepting connections, let requests in flight finish, then drop idle keep-alive sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await client.connection.close();
    },
    (message) => logger.info(message),
  );
}

main().catch((err: unknown) => {
  createLogger('api', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
