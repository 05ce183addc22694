import { createHmac, timingSafeEqual } from 'node:crypto';
import { USER_ID_PATTERN, type Principal } from '../auth/principal';

export const CODEC_SESSION_COOKIE = 'codec_session';
const SESSION_SECONDS = 8 * 60 * 60;

/**
 * Browser sessions for the codec endpoint, so an operator can let the Web UI decode payloads where the UI itself
 * has no login to pass on (the embedded dev server's): an HMAC-signed cookie naming the operator and its expiry.
 * Its signing key should be shared by every API process of a fleet (the API derives it from the payload key).
 */
export class CodecSessions {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  /** A cookie value for this operator, and how long it lasts. */
  issue(principal: Principal): { value: string; maxAgeSeconds: number } {
    const body = Buffer.from(
      JSON.stringify({ sub: principal.userId, exp: Math.floor(this.now() / 1000) + SESSION_SECONDS }),
    ).toString('base64url');
    return { value: `${body}.${this.sign(body)}`, maxAgeSeconds: SESSION_SECONDS };
  }

  /** The operator a cookie value names, if it is ours and unexpired. */
  verify(value: string | undefined): Principal | undefined {
    const [body, signature, ...rest] = (value ?? '').split('.');
    if (!body || !signature || rest.length > 0) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const { sub, exp } = JSON.parse(Buffer.from(body, 'base64url').toString()) as { sub?: unknown; exp?: unknown };
      if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) return undefined;
      if (typeof exp !== 'number' || exp * 1000 <= this.now()) return undefined;
      return { userId: sub, role: 'operator', method: 'session' };
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
