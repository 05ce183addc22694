import type { SqlConnection } from './sql-connection';

/**
 * The jobs database's schema, as the ordered migrations that build it; each runs once, in one transaction, and is
 * recorded in `schema_migrations`. The SQL is the common ground of PostgreSQL and SQLite: times are epoch
 * milliseconds in BIGINT (they sort and compare the same in both), and what the payload codec seals is base64 text.
 * Never edit a migration that has shipped: add the next one.
 */
export const MIGRATIONS: readonly { version: number; name: string; statements: readonly string[] }[] = [
  {
    version: 1,
    name: 'jobs and their chunk progress',
    statements: [
      `CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        job_status TEXT NOT NULL CHECK (job_status IN ('in_progress', 'completed', 'failed')),
        created_ms BIGINT NOT NULL,
        completed_ms BIGINT,
        retried_from TEXT,
        chunk_count INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        sealed TEXT NOT NULL
      )`,
      // Search: one user's jobs in one status, newest first, with the job id breaking ties for the page token.
      'CREATE INDEX jobs_by_user_status_created ON jobs (user_id, job_status, created_ms DESC, job_id DESC)',
      // Retention, and the reconciler's look at jobs still in progress.
      'CREATE INDEX jobs_by_created ON jobs (created_ms)',
      'CREATE INDEX jobs_by_status_created ON jobs (job_status, created_ms)',
      `CREATE TABLE job_chunk_progress (
        job_id TEXT NOT NULL,
        chunk_index INTEGER NOT NULL,
        chunk_status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        sealed TEXT NOT NULL,
        PRIMARY KEY (job_id, chunk_index)
      )`,
    ],
  },
  {
    version: 2,
    name: 'revoked codec sessions, shared rate limits',
    statements: [
      // A scope is one session (`session:<id>`) or every session of one operator issued until `revoked_ms`
      // (`user:<id>`); a row is kept until no session it revokes can still be unexpired.
      `CREATE TABLE codec_session_revocations (
        scope TEXT PRIMARY KEY,
        revoked_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL
      )`,
      // One token bucket per rate-limited key (`user:<id>`, `ip:<address>`), shared by every API process.
      `CREATE TABLE rate_limit_buckets (
        bucket_key TEXT PRIMARY KEY,
        tokens DOUBLE PRECISION NOT NULL,
        spent INTEGER NOT NULL,
        updated_ms BIGINT NOT NULL
      )`,
    ],
  },
];

/** Brings the schema up to date; safe when several processes start at once. Returns the versions it applied. */
export async function migrate(connection: SqlConnection): Promise<number[]> {
  return connection.exclusive(async (tx) => {
    await tx.execute(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)',
    );
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((row) => Number(row.version)),
    );
    const newest = Math.max(0, ...done);
    const known = MIGRATIONS.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new Error(`the jobs database is at schema version ${newest}, newer than this release knows (${known})`);
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.statements) await tx.execute(statement);
      await tx.execute('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      applied.push(migration.version);
    }
    return applied;
  });
}
