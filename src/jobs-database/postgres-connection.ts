import pg from 'pg';
import type { SqlConnection, SqlValue } from './sql-connection';

/** An arbitrary but fixed number: the advisory lock every process takes to change the schema one at a time. */
const SCHEMA_LOCK = 7_316_405;

/**
 * The production jobs database: a pool of connections to PostgreSQL 14+. BIGINT columns come back as strings
 * from `pg` (they may exceed 2^53); the jobs database holds only milliseconds and counts in them, so they are
 * read as numbers.
 */
export function openPostgres(url: string, options: { maxConnections?: number } = {}): SqlConnection {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    // A database that does not answer must fail a request within the API's budget, not hang it.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection the server dropped must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return postgresConnection(pool, () => pool.end());
}

type Queryable = pg.Pool | pg.PoolClient;

function postgresConnection(target: Queryable, close: () => Promise<void>): SqlConnection {
  const run = (sql: string, params: readonly SqlValue[] = []) =>
    target.query({ text: sql, values: params as SqlValue[], types: NUMERIC_BIGINTS });
  return {
    dialect: 'postgres',
    query: async <Row>(sql: string, params?: readonly SqlValue[]) => (await run(sql, params)).rows as Row[],
    execute: async (sql: string, params?: readonly SqlValue[]) => (await run(sql, params)).rowCount ?? 0,
    async exclusive<T>(work: (inner: SqlConnection) => Promise<T>): Promise<T> {
      if (!('connect' in target) || !(target instanceof pg.Pool)) throw new Error('transactions do not nest');
      const client = await target.connect();
      const inner = postgresConnection(client, () => Promise.resolve());
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        const result = await work(inner);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close,
  };
}

const INT8_OID = 20;
const NUMERIC_BIGINTS = {
  getTypeParser: (oid: number, format?: string) =>
    oid === INT8_OID ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format as 'text') as unknown),
} as pg.CustomTypesConfig;
