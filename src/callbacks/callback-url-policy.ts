import { USER_ID_PATTERN } from '../auth/principal';
import { callbackSigningKey } from './callback-signature';

/** One CALLBACK_URL_ALLOWLIST entry, parsed. */
export interface AllowListEntry {
  /** Only this user's jobs may call it; `undefined` for an entry open to every user. */
  userId: string | undefined;
  protocol: string;
  port: string;
  host: string;
  /** `*.` entries: exactly one more label in front of `host`. */
  subdomains: boolean;
}

/**
 * Which callback URLs the service may call, and for whom. Only origins named by configuration
 * (CALLBACK_URL_ALLOWLIST) are allowed, so a client cannot point the service at internal addresses. An entry
 * `alice=https://hooks.alice.example` is alice's alone; an entry without `user=` is open to every user.
 * `https://*.example.com` allows the direct subdomains of example.com (`a.example.com`, not `a.b.example.com` nor
 * example.com itself). Where the name resolves is checked by the sender before each attempt, not here.
 */
export class CallbackUrlPolicy {
  private readonly entries: AllowListEntry[];

  constructor(
    allowList: readonly string[],
    private readonly options: { signingSecret?: string | undefined } = {},
  ) {
    this.entries = allowList.map(parseAllowListEntry);
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /**
   * Why the URL may not be called for the user, or `undefined` when it may. Without a user id (a check that does not
   * know the job's owner), an entry bound to any user will do; the sender always names the owner.
   */
  refusal(url: string, userId?: string): string | undefined {
    if (!this.enabled) return 'callbacks are not enabled on this service';
    if (!URL.canParse(url)) return 'not a valid URL';
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL';
    if (parsed.username || parsed.password) return 'must not carry credentials';
    const matching = this.entries.filter((entry) => originMatches(entry, parsed));
    if (matching.length === 0) return `${parsed.origin} is not an allowed callback origin`;
    if (userId !== undefined && !matching.some((entry) => entry.userId === undefined || entry.userId === userId)) {
      return `${parsed.origin} is not an allowed callback origin for ${userId}`;
    }
    return undefined;
  }

  /**
   * The key `userId`'s receiver at `url` verifies callbacks with, if the URL is allowed for the user and this process
   * knows CALLBACK_SIGNING_SECRET ([callback-signature.ts](./callback-signature.ts) derives it).
   */
  signingKey(url: string, userId: string): { key: string } | { refusal: string } {
    const refusal = this.refusal(url, userId);
    if (refusal) return { refusal };
    if (!this.options.signingSecret) return { refusal: 'this service does not sign callbacks' };
    return { key: callbackSigningKey(this.options.signingSecret, userId, url) };
  }
}

function originMatches(entry: AllowListEntry, url: URL): boolean {
  if (entry.protocol !== url.protocol || entry.port !== url.port) return false;
  if (!entry.subdomains) return url.hostname === entry.host;
  if (!url.hostname.endsWith(`.${entry.host}`)) return false;
  // One level: what is left in front of the suffix is a single label.
  const label = url.hostname.slice(0, -entry.host.length - 1);
  return label.length > 0 && !label.includes('.');
}

const NOT_AN_ENTRY = 'is not an origin like https://hooks.example.com, optionally after user=';

/**
 * An allow-list entry is an origin (`https://hooks.example.com`, `http://127.0.0.1:9000`), or one with `*.`,
 * optionally bound to a user: `alice=https://hooks.alice.example`.
 */
export function parseAllowListEntry(entry: string): AllowListEntry {
  const bound = /^([^=]+)=(.*)$/.exec(entry);
  const userId = bound?.[1];
  const origin = bound ? (bound[2] as string) : entry;
  if (userId !== undefined && !USER_ID_PATTERN.test(userId)) {
    throw new Error(`"${entry}": "${userId}" is not a user id`);
  }
  const subdomains = /^https?:\/\/\*\./.test(origin);
  const concrete = subdomains ? origin.replace('*.', 'wildcard.') : origin;
  if (!URL.canParse(concrete)) throw new Error(`"${entry}" ${NOT_AN_ENTRY}`);
  const url = new URL(concrete);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== concrete) {
    throw new Error(`"${entry}" ${NOT_AN_ENTRY}`);
  }
  const host = subdomains ? url.hostname.slice('wildcard.'.length) : url.hostname;
  return { userId, protocol: url.protocol, port: url.port, host, subdomains };
}
