import type { SqlConnection } from './sql-connection';

/**
 * Revoked codec sessions, in the jobs database so that a sign-out in one API process holds in every other: one
 * session by its id, or all of an operator's sessions issued until a moment. Rows outlive the sessions they revoke
 * by nothing: each is dropped once every session it could refuse has expired anyway.
 */
export class CodecSessionRevocations {
  constructor(
    private readonly sql: SqlConnection,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refuses the session `sessionId` from now on; `expiresMs` is when it would have expired. */
  async revokeSession(sessionId: string, expiresMs: number): Promise<void> {
    await this.upsert(`session:${sessionId}`, expiresMs);
  }

  /** Refuses every session of `userId` issued until now; `longestSessionMs` is how long any session may last. */
  async revokeUser(userId: string, longestSessionMs: number): Promise<void> {
    await this.upsert(`user:${userId}`, this.now() + longestSessionMs);
  }

  /** Whether the session `sessionId` of `userId`, issued at `issuedMs`, has been revoked. */
  async isRevoked(sessionId: string, userId: string, issuedMs: number): Promise<boolean> {
    const rows = await this.sql.query<{ scope: string; revoked_ms: number | string }>(
      'SELECT scope, revoked_ms FROM codec_session_revocations WHERE scope IN ($1, $2)',
      [`session:${sessionId}`, `user:${userId}`],
    );
    return rows.some((row) => row.scope.startsWith('session:') || Number(row.revoked_ms) >= issuedMs);
  }

  private async upsert(scope: string, expiresMs: number): Promise<void> {
    const now = this.now();
    await this.sql.execute(
      `INSERT INTO codec_session_revocations (scope, revoked_ms, expires_ms) VALUES ($1, $2, $3)
       ON CONFLICT (scope) DO UPDATE SET revoked_ms = excluded.revoked_ms, expires_ms = excluded.expires_ms`,
      [scope, now, expiresMs],
    );
    await this.sql.execute('DELETE FROM codec_session_revocations WHERE expires_ms < $1', [now]);
  }
}
