import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The headers of a callback: which delivery it is (the same on every retry), when it was sent, whose job it is, and
 * its signature.
 */
export const CALLBACK_HEADERS = {
  delivery: 'x-transcription-delivery',
  timestamp: 'x-transcription-timestamp',
  user: 'x-transcription-user',
  signature: 'x-transcription-signature',
} as const;

/** The signature's scheme: `v2=` says the key is the receiver's own, derived for its user and URL. */
const SIGNATURE_VERSION = 'v2';

/**
 * The key one receiver verifies with: HMAC-SHA256 of `callback-key-v2 NUL <userId> NUL <url>`, keyed with
 * CALLBACK_SIGNING_SECRET, as `whsec_<base64url>`. It is bound to the user and the exact URL, so a signature made
 * for one user or URL never verifies with another's key, and no receiver holds anything that signs for anyone else.
 * User ids and URLs hold no NUL, so the input is unambiguous.
 */
export function callbackSigningKey(signingSecret: string, userId: string, url: string): string {
  const derived = createHmac('sha256', signingSecret).update(`callback-key-v2\0${userId}\0${new URL(url).href}`);
  return `whsec_${derived.digest('base64url')}`;
}

/** `v2=` and the hex HMAC-SHA256, keyed with the receiver's key, of `<timestamp>.<body>`. */
export function signCallback(key: string, timestampSeconds: number, body: string): string {
  return `${SIGNATURE_VERSION}=${createHmac('sha256', key).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/**
 * What a receiver checks: the signature is made with its own key (so for its user and URL), over this very body and
 * timestamp, and the timestamp is recent, so a captured callback cannot be replayed later.
 */
export function verifyCallback(
  key: string,
  received: { timestamp: string | undefined; signature: string | undefined; body: string },
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): boolean {
  const timestamp = Number(received.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signCallback(key, timestamp, received.body));
  const actual = Buffer.from(received.signature ?? '');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
