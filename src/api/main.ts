import type { AddressInfo } from 'node:net';
import { createApiServer } from './compose';
import { loadConfig } from '../config/config';
import { createLogger } from '../logger';
import { announceReady, onShutdown } from '../process/process-lifecycle';

/** The API process: `npm run api`. Several may run at once against one Temporal cluster. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('api', config.logLevel);
  const { server, close } = await createApiServer(config, logger);
  server.listen(config.api.port, config.api.host);
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
      await close();
    },
    (message) => logger.info(message),
  );
}

main().catch((err: unknown) => {
  createLogger('api', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
