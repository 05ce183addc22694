import { openJobsDatabase } from '../../src/jobs-database/open-jobs-database';
import { testCodec, type TestJobsDatabase } from './jobs-databases';
import { startTestPostgres } from './postgres-server';

/** A jobs database of its own on a real PostgreSQL 15 server, started for the test file on loopback. */
export async function postgresTestDatabase(): Promise<TestJobsDatabase> {
  const server = await startTestPostgres({ databases: ['transcription_jobs'] });
  const settings = { url: server.url('transcription_jobs'), sqliteFile: '' };
  return {
    name: 'postgres',
    settings,
    open: (codec = testCodec()) => openJobsDatabase(settings, codec),
    cleanup: () => server.cleanup(),
  };
}
