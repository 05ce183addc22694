import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { USER_ID_PATTERN, type Principal } from '../auth/principal';

export const CODEC_SESSION_COOKIE = 'codec_session';
/** The longest a session lasts; one from a credential that expires sooner ends with it. */
export const LONGEST_SESSION_MS = 8 * 60 * 60 * 1000;

/** What a session's credential is checked against each time the session is used. */
export interface SessionCredentials {
  stillValid(principal: Principal, nowMs: number): boolean;
}

/** Where revocations are kept, shared by every API process. */
export interface SessionRevocations {
  revokeSession(sessionId: string, expiresMs: number): Promise<void>;
  revokeUser(userId: string, longestSessionMs: number): Promise<void>;
  isRevoked(sessionId: string, userId: string, issuedMs: number): Promise<boolean>;
}

interface SessionBody {
  /** The session's id: what signing out revokes. */
  sid: string;
  sub: string;
  /** Issued and expires, epoch milliseconds. */
  iat: number;
  exp: number;
  /** The credential that signed in, as its principal carried it. */
  via: Pick<Principal, 'method' | 'credential'>;
}

/**
 * Browser sessions for the codec endpoint, so an operator can let the Web UI decode payloads where the UI itself
 * has no login to pass on (the embedded dev server's): an HMAC-signed cookie naming the operator, the credential
 * that signed in and the session's expiry. A session ends at the latest after 8 hours, sooner when its JWT
 * expires; it stops working as soon as its API key is no longer listed (after the API's restart with the new key
 * file), when the browser signs out, or when an operator revokes the user's sessions. Its signing key should be
 * shared by every API process of a fleet (the API derives it from the payload key), and so are the revocations.
 */
export class CodecSessions {
  constructor(
    private readonly key: Buffer,
    private readonly deps: {
      /** Absent only when authentication is off, where sessions prove nothing anyway. */
      credentials?: SessionCredentials;
      revocations: SessionRevocations;
      now?: () => number;
    },
  ) {}

  /** A cookie value for this operator, and how long it lasts. */
  issue(principal: Principal): { value: string; maxAgeSeconds: number } {
    const now = this.now();
    const exp = Math.min(now + LONGEST_SESSION_MS, principal.credential?.expiresAtMs ?? Infinity);
    const body: SessionBody = {
      sid: randomBytes(16).toString('base64url'),
      sub: principal.userId,
      iat: now,
      exp,
      via: { method: principal.method, credential: principal.credential },
    };
    const encoded = Buffer.from(JSON.stringify(body)).toString('base64url');
    return { value: `${encoded}.${this.sign(encoded)}`, maxAgeSeconds: Math.max(0, Math.floor((exp - now) / 1000)) };
  }

  /** The operator a cookie value names, if it is ours, unexpired, unrevoked and its credential still holds. */
  async verify(value: string | undefined): Promise<Principal | undefined> {
    const body = this.signedBody(value);
    if (!body) return undefined;
    const now = this.now();
    if (body.exp <= now) return undefined;
    const signedInAs: Principal = { userId: body.sub, role: 'operator', ...body.via };
    if (this.deps.credentials && !this.deps.credentials.stillValid(signedInAs, now)) return undefined;
    if (await this.deps.revocations.isRevoked(body.sid, body.sub, body.iat)) return undefined;
    return { userId: body.sub, role: 'operator', method: 'session' };
  }

  /** Signs the session of this cookie out, in every API process; a cookie that is not ours is ignored. */
  async signOut(value: string | undefined): Promise<void> {
    const body = this.signedBody(value);
    if (body && body.exp > this.now()) await this.deps.revocations.revokeSession(body.sid, body.exp);
  }

  /** Ends every session `userId` holds now, in every API process: for a lost laptop or a leaked cookie. */
  async revokeAllOf(userId: string): Promise<void> {
    await this.deps.revocations.revokeUser(userId, LONGEST_SESSION_MS);
  }

  private signedBody(value: string | undefined): SessionBody | undefined {
    const [encoded, signature, ...rest] = (value ?? '').split('.');
    if (!encoded || !signature || rest.length > 0) return undefined;
    const expected = Buffer.from(this.sign(encoded));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const body = JSON.parse(Buffer.from(encoded, 'base64url').toString()) as Partial<SessionBody>;
      const { sid, sub, iat, exp, via } = body;
      if (typeof sid !== 'string' || typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) return undefined;
      if (typeof iat !== 'number' || typeof exp !== 'number' || typeof via !== 'object' || via === null) {
        return undefined;
      }
      return { sid, sub, iat, exp, via };
    } catch {
      return undefined;
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
