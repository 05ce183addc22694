import { createHmac, timingSafeEqual } from 'node:crypto';

/** The headers of a callback: which delivery it is (the same on every retry), when it was sent, and its signature. */
export const CALLBACK_HEADERS = {
  delivery: 'x-transcription-delivery',
  timestamp: 'x-transcription-timestamp',
  signature: 'x-transcription-signature',
} as const;

/** `v1=` and the hex HMAC-SHA256, keyed with the signing secret, of `<timestamp>.<body>`. */
export function signCallback(secret: string, timestampSeconds: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/**
 * What a receiver checks: the signature is the service's, over this very body and timestamp, and the timestamp is
 * recent, so a captured callback cannot be replayed later.
 */
export function verifyCallback(
  secret: string,
  received: { timestamp: string | undefined; signature: string | undefined; body: string },
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): boolean {
  const timestamp = Number(received.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signCallback(secret, timestamp, received.body));
  const actual = Buffer.from(received.signature ?? '');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
