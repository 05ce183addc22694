import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { SqlConnection, SqlValue } from './sql-connection';

/**
 * How long a write waits for another process's lock (the API and the worker share the file) before failing. Their
 * writes hold it for well under a millisecond; the wait blocks the thread, so it must stay far below a chunk's
 * heartbeat interval. A write that fails is retried by whoever made it (the workflow's local activity, the client).
 */
const BUSY_TIMEOUT_MS = 1_000;

/**
 * Transactions under way per file in this process. SQLite's busy wait blocks the thread, so a second connection
 * of the same process waiting for the lock would stop the very event loop the first needs to commit: they queue.
 */
const transactionsByFile = new Map<string, Promise<unknown>>();

/**
 * The embedded jobs database: one SQLite file in WAL mode, so the API reads while the worker writes. Node's own
 * `node:sqlite` answers synchronously; every statement here touches a handful of rows by index, well under a
 * millisecond, so the event loop is not held.
 */
export function openSqlite(file: string): SqlConnection {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  db.exec('PRAGMA journal_mode = WAL');
  // WAL with NORMAL sync survives a process crash; only a power cut can lose the last commits.
  db.exec('PRAGMA synchronous = NORMAL');
  const statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sqliteParameters(sql));
      statements.set(sql, statement);
    }
    return statement;
  };
  let inTransaction = false;
  const connection: SqlConnection = {
    dialect: 'sqlite',
    query: <Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepared(sql).all(...(params as SQLInputValue[])) as Row[]),
    execute: (sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(Number(prepared(sql).run(...(params as SQLInputValue[])).changes)),
    exclusive<T>(work: (inner: SqlConnection) => Promise<T>): Promise<T> {
      if (inTransaction) throw new Error('transactions do not nest');
      const key = path.resolve(file);
      const run = async () => {
        inTransaction = true;
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await work(connection);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          db.exec('ROLLBACK');
          throw err;
        } finally {
          inTransaction = false;
        }
      };
      const result = (transactionsByFile.get(key) ?? Promise.resolve()).then(run, run);
      const settled = result.catch(() => undefined);
      transactionsByFile.set(key, settled);
      void settled.then(() => {
        if (transactionsByFile.get(key) === settled) transactionsByFile.delete(key);
      });
      return result;
    },
    close: () => {
      db.close();
      return Promise.resolve();
    },
  };
  return connection;
}

/** `$1` is PostgreSQL's numbered parameter; SQLite's is `?1`. */
export function sqliteParameters(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}
