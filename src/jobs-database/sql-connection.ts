/**
 * What the jobs database needs of a SQL engine, written once for PostgreSQL and SQLite. Statements use `$1`-style
 * parameters; each dialect maps them to its own.
 */
export type SqlValue = string | number | null;

export interface SqlConnection {
  readonly dialect: 'postgres' | 'sqlite';
  /** Rows of a read. */
  query<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** A write; resolves to the number of rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `work` in one transaction that holds the database's write lock from its start, so two processes that both
   * run it (say, migrating at start) run one after the other.
   */
  exclusive<T>(work: (connection: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
