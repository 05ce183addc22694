import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { startPostgres, type PostgresOptions, type PostgresServer } from '../../src/process/postgres-server';
import { tempDir } from './temp-dir';

export interface TestPostgres extends PostgresServer {
  /** Starts a new server on this one's data folder (once it is stopped or killed); `cleanup()` stops that one too. */
  startAgain(): Promise<PostgresServer>;
  /** Stops every server started on the folder that still runs, and removes the folder. */
  cleanup(): Promise<void>;
}

/**
 * A real PostgreSQL 15 for one test file, on a free loopback port, with its cluster in a fresh temp dir. With
 * PostgreSQL missing it throws the install hint: the tests fail rather than skip. A failed start leaves the folder
 * in place, for the log its error names.
 */
export async function startTestPostgres(options: Omit<PostgresOptions, 'dataDir'> = {}): Promise<TestPostgres> {
  const dir = await tempDir('postgres');
  // Under root the server runs as the postgres user, which has to pass through this 0700 folder to its cluster.
  await chmod(dir, 0o711);
  const start = () => startPostgres({ ...options, dataDir: path.join(dir, 'data') });
  const servers = [await start()];
  return {
    ...servers[0]!,
    startAgain: async () => {
      const server = await start();
      servers.push(server);
      return server;
    },
    cleanup: async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
