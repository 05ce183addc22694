/**
 * Which callback URLs the service may call. Only origins named by configuration (CALLBACK_URL_ALLOWLIST) are
 * allowed, so a client cannot point the service at internal addresses; `https://*.example.com` allows the
 * subdomains of example.com (not example.com itself).
 */
export class CallbackUrlPolicy {
  private readonly entries: { protocol: string; port: string; host: string; subdomains: boolean }[];

  constructor(allowList: readonly string[]) {
    this.entries = allowList.map(parseAllowListEntry);
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** Why the URL may not be called, or `undefined` when it may. */
  refusal(url: string): string | undefined {
    if (!this.enabled) return 'callbacks are not enabled on this service';
    if (!URL.canParse(url)) return 'not a valid URL';
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL';
    if (parsed.username || parsed.password) return 'must not carry credentials';
    const allowed = this.entries.some(
      (entry) =>
        entry.protocol === parsed.protocol &&
        entry.port === parsed.port &&
        (entry.subdomains ? parsed.hostname.endsWith(`.${entry.host}`) : parsed.hostname === entry.host),
    );
    return allowed ? undefined : `${parsed.origin} is not an allowed callback origin`;
  }
}

/** An allow-list entry is an origin (`https://hooks.example.com`, `http://127.0.0.1:9000`), or one with `*.`. */
export function parseAllowListEntry(entry: string): {
  protocol: string;
  port: string;
  host: string;
  subdomains: boolean;
} {
  const subdomains = /^https?:\/\/\*\./.test(entry);
  const concrete = subdomains ? entry.replace('*.', 'wildcard.') : entry;
  if (!URL.canParse(concrete)) throw new Error(`"${entry}" is not an origin like https://hooks.example.com`);
  const url = new URL(concrete);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== concrete) {
    throw new Error(`"${entry}" is not an origin like https://hooks.example.com`);
  }
  const host = subdomains ? url.hostname.slice('wildcard.'.length) : url.hostname;
  return { protocol: url.protocol, port: url.port, host, subdomains };
}
