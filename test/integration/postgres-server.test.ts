import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/process/free-port';
import { startPostgres, type PostgresServer } from '../../src/process/postgres-server';
import { startTestPostgres, type TestPostgres } from '../support/postgres-server';

const START_TIMEOUT_MS = 180_000;

async function query<Row extends object>(server: PostgresServer, database: string, sql: string): Promise<Row[]> {
  const client = new Client({ connectionString: server.url(database), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

const notes = (server: PostgresServer) => query<{ body: string }>(server, 'jobs_test', 'SELECT body FROM notes');

/** True while a process with this pid exists (signal 0 only probes). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the local PostgreSQL server', () => {
  let pg: TestPostgres;

  beforeAll(async () => {
    pg = await startTestPostgres({ databases: ['jobs_test'] });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await pg?.cleanup();
  }, START_TIMEOUT_MS);

  it('when started, then it listens on loopback only and answers as a superuser', async () => {
    expect(pg.host).toBe('127.0.0.1');
    expect(pg.url('jobs_test')).toBe(`postgresql://transcription@127.0.0.1:${pg.port}/jobs_test`);
    const [settings] = await query<{ listen: string; version: string; superuser: string }>(
      pg,
      'jobs_test',
      "SELECT current_setting('listen_addresses') AS listen, current_setting('server_version_num') AS version, " +
        "current_setting('is_superuser') AS superuser",
    );
    expect(settings).toEqual({ listen: '127.0.0.1', version: expect.stringMatching(/^15\d{4}$/), superuser: 'on' });
    expect(isRunning(pg.pid)).toBe(true);
    expect(await readFile(pg.logFile, 'utf8')).toContain('database system is ready to accept connections');
  });

  it(
    'when stopped and started again on its folder, then a committed row is still there',
    async () => {
      await query(pg, 'jobs_test', 'CREATE TABLE notes (body text NOT NULL)');
      await query(pg, 'jobs_test', "INSERT INTO notes VALUES ('kept across restarts')");

      await pg.stop();
      expect(isRunning(pg.pid)).toBe(false);
      await expect(query(pg, 'jobs_test', 'SELECT 1')).rejects.toThrow();

      const again = await pg.startAgain();
      expect(existsSync(path.join(pg.dataDir, 'PG_VERSION'))).toBe(true);
      expect(await notes(again)).toEqual([{ body: 'kept across restarts' }]);
      await again.stop();
    },
    START_TIMEOUT_MS,
  );

  it(
    'when the postmaster is killed (SIGKILL), then the next start recovers the rows',
    async () => {
      const running = await pg.startAgain();
      await query(running, 'jobs_test', "INSERT INTO notes VALUES ('written just before the crash')");

      await running.kill();
      expect(isRunning(running.pid)).toBe(false);

      const recovered = await pg.startAgain();
      expect(await notes(recovered)).toEqual([
        { body: 'kept across restarts' },
        { body: 'written just before the crash' },
      ]);
      expect(await readFile(pg.logFile, 'utf8')).toContain('database system was interrupted');
      await recovered.stop();
    },
    START_TIMEOUT_MS,
  );

  it(
    'when its port is taken, then the start fails naming the cause and the log file',
    async () => {
      // It hangs up at once: a connection it kept open (the start's readiness probe) would hold close() up.
      const squatter = createServer((socket) => socket.destroy());
      const port = await freePort();
      await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
      try {
        const started = startPostgres({ dataDir: pg.dataDir, port });
        await expect(started).rejects.toThrow(`found its port taken; its log is ${pg.logFile}`);
        await expect(started).rejects.toThrow('Address already in use');
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
    },
    START_TIMEOUT_MS,
  );
});
