import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { nonPublicAddress } from './callback-address';
import { CALLBACK_HEADERS, callbackSigningKey, signCallback } from './callback-signature';
import type { CallbackUrlPolicy } from './callback-url-policy';

/** The receiver could not take the callback now (5xx, 408, 429, timeout, unreachable): try again later. */
export class CallbackUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallbackUnavailableError';
  }
}

/**
 * The callback must not or cannot be delivered (refused URL, a name that leads to a private address, a 4xx, a
 * redirect): trying again would not help.
 */
export class CallbackRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallbackRejectedError';
  }
}

/** A host name's addresses, as `dns.lookup` with `all` gives them. */
export type ResolveHost = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** The most of a receiver's answer body read before the connection is dropped: the status is all that counts. */
export const MAX_REPLY_BYTES = 4 * 1024;

export interface CallbackSenderOptions {
  policy: Pick<CallbackUrlPolicy, 'refusal'>;
  signingSecret: string | undefined;
  timeoutMs: number;
  /** CALLBACK_ALLOW_PRIVATE_ADDRESSES: let callbacks reach loopback, private and other non-public addresses. */
  allowPrivateAddresses?: boolean;
  /** How host names are resolved; the system resolver (`dns.lookup`, so /etc/hosts too) unless a test swaps it. */
  resolve?: ResolveHost;
  maxReplyBytes?: number;
}

/** One callback: where, which delivery (the same on every attempt), whose job, and the exact bytes to send. */
export interface OutgoingCallback {
  url: string;
  deliveryId: string;
  userId: string;
  body: string;
}

export interface CallbackReply {
  status: number;
  /** Bytes of the answer's body read before the connection was closed or dropped. */
  replyBytes: number;
}

const systemResolve: ResolveHost = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * POSTs a job's result to its callback URL, signed with the key of its user and URL; one attempt per call (retries
 * are Temporal's). Before each attempt the URL is checked against the allow-list for the job's owner and its host
 * resolved; an address that is not public is refused unless the operator allows it, and the connection goes to the
 * very address that was checked, so a name rebound between the check and the connection leads nowhere new.
 */
export class CallbackSender {
  private readonly resolve: ResolveHost;

  constructor(private readonly options: CallbackSenderOptions) {
    this.resolve = options.resolve ?? systemResolve;
  }

  async send(delivery: OutgoingCallback, { signal }: { signal?: AbortSignal } = {}): Promise<CallbackReply> {
    // Checked on every attempt, not only at submission: the allow-list may have shrunk since.
    const refusal = this.options.policy.refusal(delivery.url, delivery.userId);
    if (refusal) throw new CallbackRejectedError(`callback refused: ${refusal}`);
    if (!this.options.signingSecret) throw new CallbackUnavailableError('this worker has no CALLBACK_SIGNING_SECRET');
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let reply: CallbackReply;
    try {
      const url = new URL(delivery.url);
      const address = await this.checkedAddress(bareHost(url), abort);
      reply = await this.post(url, address, delivery, this.options.signingSecret, abort);
    } catch (err) {
      if (err instanceof CallbackRejectedError || err instanceof CallbackUnavailableError) throw err;
      if (signal?.aborted) throw err;
      if (timeout.aborted) throw new CallbackUnavailableError(`no answer within ${this.options.timeoutMs} ms`);
      const code = (err as { code?: string }).code;
      throw new CallbackUnavailableError(`unreachable: ${code ?? (err as Error).message}`);
    }
    const { status } = reply;
    if (status >= 200 && status < 300) return reply;
    if (status === 408 || status === 429 || status >= 500) throw new CallbackUnavailableError(`answered ${status}`);
    throw new CallbackRejectedError(`answered ${status}${status < 400 ? ' (redirects are not followed)' : ''}`);
  }

  /** The address to connect to: the host's, resolved now, every one of them public unless private ones are allowed. */
  private async checkedAddress(host: string, signal: AbortSignal): Promise<{ address: string; family: number }> {
    const family = isIP(host);
    const addresses = family ? [{ address: host, family }] : await abortable(this.resolve(host), signal);
    const [first] = addresses;
    if (!first) throw new CallbackUnavailableError(`unreachable: ${host} has no address`);
    if (!this.options.allowPrivateAddresses) {
      // All of them, not only the first: a client may try any, and a name answering one public and one private
      // address is an attack, not a deployment.
      for (const { address } of addresses) {
        const kind = nonPublicAddress(address);
        if (kind) {
          throw new CallbackRejectedError(
            `callback refused: ${host} leads to ${address}, a ${kind} address (CALLBACK_ALLOW_PRIVATE_ADDRESSES is off)`,
          );
        }
      }
    }
    return first;
  }

  private post(
    url: URL,
    address: { address: string; family: number },
    delivery: OutgoingCallback,
    signingSecret: string,
    signal: AbortSignal,
  ): Promise<CallbackReply> {
    const timestamp = Math.floor(Date.now() / 1000);
    const key = callbackSigningKey(signingSecret, delivery.userId, delivery.url);
    const body = Buffer.from(delivery.body);
    const host = bareHost(url);
    const maxReplyBytes = this.options.maxReplyBytes ?? MAX_REPLY_BYTES;
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<CallbackReply>((resolve, reject) => {
      const req = request(
        {
          method: 'POST',
          protocol: url.protocol,
          // The name stays the host: it is the Host header, the TLS server name and what the certificate must name.
          host,
          ...(isIP(host) ? {} : { servername: host }),
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          lookup: pinnedLookup(address),
          // A connection of its own, closed after the answer: never a pooled one to wherever the name led before.
          agent: false,
          maxHeaderSize: 8 * 1024,
          signal,
          headers: {
            'content-type': 'application/json',
            'content-length': String(body.length),
            'user-agent': 'transcription-service-callbacks',
            connection: 'close',
            [CALLBACK_HEADERS.delivery]: delivery.deliveryId,
            [CALLBACK_HEADERS.timestamp]: String(timestamp),
            [CALLBACK_HEADERS.user]: delivery.userId,
            [CALLBACK_HEADERS.signature]: signCallback(key, timestamp, delivery.body),
          },
        },
        (response) => {
          // Redirects are never followed: this module does not follow them, so a 3xx is just its status.
          let replyBytes = 0;
          const finish = () => {
            response.destroy();
            req.destroy();
            resolve({ status: response.statusCode ?? 0, replyBytes });
          };
          // The body means nothing to us; the first few KiB are read so a small answer ends cleanly, then the
          // connection is dropped, so a receiver cannot make the worker read (or hold) a large one.
          response.on('data', (chunk: Buffer) => {
            replyBytes += chunk.length;
            if (replyBytes >= maxReplyBytes) finish();
          });
          response.on('end', finish);
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** The URL's host without the brackets of an IPv6 literal. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** A `lookup` that answers the one address already checked, whatever name it is asked about. */
function pinnedLookup(target: { address: string; family: number }): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
