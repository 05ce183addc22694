import type { AesGcmPayloadCodec } from '../codec/aes-gcm-payload-codec';
import { CodecSessionRevocations } from './codec-session-revocations';
import { JobsDatabase } from './jobs-database';
import { migrate } from './migrations';
import { PageTokens } from './page-token';
import { RateLimitBuckets } from './rate-limit-buckets';
import { openPostgres } from './postgres-connection';
import { RecordSealer } from './record-sealer';
import type { SqlConnection } from './sql-connection';
import { openSqlite } from './sqlite-connection';

export interface JobsDatabaseSettings {
  /** PostgreSQL's URL; unset, the SQLite file. */
  url?: string;
  sqliteFile: string;
}

/** Where the jobs database is, said without its password: for logs. */
export function describeJobsDatabase(settings: JobsDatabaseSettings): string {
  if (!settings.url) return `sqlite:${settings.sqliteFile}`;
  const url = new URL(settings.url);
  url.password = url.password ? '***' : '';
  return url.toString();
}

export function connectJobsDatabase(settings: JobsDatabaseSettings): SqlConnection {
  return settings.url ? openPostgres(settings.url) : openSqlite(settings.sqliteFile);
}

/**
 * The jobs database of a process, its schema brought up to date first. Records are sealed with the payload
 * codec's keys; search page tokens are signed with a key derived from them, so every process of the fleet that
 * holds the same keys accepts the others' tokens.
 */
export async function openJobsDatabase(
  settings: JobsDatabaseSettings,
  codec: AesGcmPayloadCodec,
): Promise<{
  database: JobsDatabase;
  pageTokens: PageTokens;
  sessionRevocations: CodecSessionRevocations;
  rateLimitBuckets: RateLimitBuckets;
}> {
  const sql = connectJobsDatabase(settings);
  try {
    await migrate(sql);
  } catch (err) {
    await sql.close();
    throw new Error(`jobs database ${describeJobsDatabase(settings)}: ${(err as Error).message}`, { cause: err });
  }
  return {
    database: new JobsDatabase(sql, new RecordSealer(codec)),
    pageTokens: new PageTokens(codec.deriveKey('search-page-token-v1')),
    sessionRevocations: new CodecSessionRevocations(sql),
    rateLimitBuckets: new RateLimitBuckets(sql),
  };
}
