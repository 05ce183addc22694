import { loadConfig } from '../config/config';
import { loadPayloadCodec } from '../codec/load-payload-codec';
import { progressBar } from '../cli/progress-line';
import { createLogger } from '../logger';
import { connectJobs } from '../temporal/connect-jobs';
import { backfillJobRecords, type BackfillProgress } from './backfill';
import { describeJobsDatabase, openJobsDatabase } from './open-jobs-database';

/**
 * `npm run jobs:backfill`: imports the jobs Temporal still holds into the jobs database, with the service's own
 * configuration (TEMPORAL_*, JOBS_DATABASE_URL, the payload keys). Safe to run again, and while the service runs.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { process: 'api' });
  const codec = await loadPayloadCodec(config, createLogger('backfill', config.logLevel));
  const { client, jobs } = await connectJobs(config, codec);
  const { database } = await openJobsDatabase(config.jobsDatabase, codec);
  const tty = process.stderr.isTTY;
  const show = ({ total, checked, imported }: BackfillProgress) => {
    const line = `${progressBar(checked, total, 30)} ${checked}/${total} jobs checked, ${imported} imported`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
  };
  try {
    process.stderr.write(
      `backfill: from Temporal ${config.temporal.address} (${config.temporal.namespace}) into ${describeJobsDatabase(config.jobsDatabase)}\n`,
    );
    const done = await backfillJobRecords(jobs, database, show);
    process.stderr.write(`${tty ? '\n' : ''}backfill: done, ${done.imported} of ${done.checked} jobs imported\n`);
  } finally {
    await database.close();
    await client.connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\nbackfill: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
