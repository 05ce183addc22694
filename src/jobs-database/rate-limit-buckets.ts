import type { SqlConnection } from './sql-connection';

/** How long a bucket may sit unused before it is dropped: far longer than any bucket takes to refill. */
const IDLE_MS = 60 * 60 * 1000;
/** One take in this many also drops idle buckets, so the table holds only keys seen in the last hour. */
const TIDY_EVERY_TAKES = 1000;

/**
 * The API's rate-limit token buckets, in the jobs database so every API process spends from the same ones. A take
 * is one statement: the refill, the decision and the spend happen in the row's own update, so two processes taking
 * at once never both spend the last token.
 */
export class RateLimitBuckets {
  private takes = 0;
  private readonly takeStatement: string;

  constructor(private readonly sql: SqlConnection) {
    const [least, greatest] = sql.dialect === 'postgres' ? ['LEAST', 'GREATEST'] : ['MIN', 'MAX'];
    const refilled = `${least}(CAST($2 AS DOUBLE PRECISION), rate_limit_buckets.tokens + ${greatest}(0, $3 - rate_limit_buckets.updated_ms) * CAST($4 AS DOUBLE PRECISION) / 1000)`;
    this.takeStatement = `INSERT INTO rate_limit_buckets (bucket_key, tokens, spent, updated_ms)
      VALUES ($1, CAST($2 AS DOUBLE PRECISION) - 1, 1, $3)
      ON CONFLICT (bucket_key) DO UPDATE SET
        tokens = CASE WHEN ${refilled} >= 1 THEN ${refilled} - 1 ELSE ${refilled} END,
        spent = CASE WHEN ${refilled} >= 1 THEN 1 ELSE 0 END,
        updated_ms = ${greatest}(rate_limit_buckets.updated_ms, $3)
      RETURNING tokens, spent`;
  }

  /** Refills `key`'s bucket to `nowMs` and spends a token if a whole one is there; what the bucket holds after. */
  async take(
    key: string,
    policy: { perSecond: number; burst: number },
    nowMs: number,
  ): Promise<{ spent: boolean; tokens: number }> {
    const [row] = await this.sql.query<{ tokens: number | string; spent: number | string }>(this.takeStatement, [
      key,
      policy.burst,
      nowMs,
      policy.perSecond,
    ]);
    if (!row) throw new Error('the rate limit update returned no row');
    this.takes += 1;
    if (this.takes % TIDY_EVERY_TAKES === 0) {
      await this.sql.execute('DELETE FROM rate_limit_buckets WHERE updated_ms < $1', [nowMs - IDLE_MS]);
    }
    return { spent: Number(row.spent) === 1, tokens: Number(row.tokens) };
  }

  /** The bucket as it was last left, if the key has one. */
  async get(key: string): Promise<{ tokens: number; updatedMs: number } | undefined> {
    const [row] = await this.sql.query<{ tokens: number | string; updated_ms: number | string }>(
      'SELECT tokens, updated_ms FROM rate_limit_buckets WHERE bucket_key = $1',
      [key],
    );
    return row && { tokens: Number(row.tokens), updatedMs: Number(row.updated_ms) };
  }
}
