import { CALLBACK_HEADERS, signCallback } from './callback-signature';
import type { CallbackUrlPolicy } from './callback-url-policy';

/** The receiver could not take the callback now (5xx, 408, 429, timeout, unreachable): try again later. */
export class CallbackUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallbackUnavailableError';
  }
}

/** The callback must not or cannot be delivered (refused URL, a 4xx, a redirect): trying again would not help. */
export class CallbackRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallbackRejectedError';
  }
}

export interface CallbackSenderOptions {
  policy: CallbackUrlPolicy;
  signingSecret: string | undefined;
  timeoutMs: number;
}

/** POSTs a job's result to its callback URL, signed; one attempt per call (retries are Temporal's). */
export class CallbackSender {
  constructor(private readonly options: CallbackSenderOptions) {}

  async send(
    delivery: { url: string; deliveryId: string; body: string },
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<number> {
    // Checked on every attempt, not only at submission: the allow-list may have shrunk since.
    const refusal = this.options.policy.refusal(delivery.url);
    if (refusal) throw new CallbackRejectedError(`callback refused: ${refusal}`);
    if (!this.options.signingSecret) throw new CallbackUnavailableError('this worker has no CALLBACK_SIGNING_SECRET');
    const timestamp = Math.floor(Date.now() / 1000);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(delivery.url, {
        method: 'POST',
        body: delivery.body,
        // Never followed: a redirect could lead the service to an address the allow-list does not name.
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'transcription-service-callbacks',
          [CALLBACK_HEADERS.delivery]: delivery.deliveryId,
          [CALLBACK_HEADERS.timestamp]: String(timestamp),
          [CALLBACK_HEADERS.signature]: signCallback(this.options.signingSecret, timestamp, delivery.body),
        },
      });
      // The answer's body means nothing to us; reading it frees the connection.
      await response.arrayBuffer();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) throw new CallbackUnavailableError(`no answer within ${this.options.timeoutMs} ms`);
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new CallbackUnavailableError(`unreachable: ${cause?.code ?? (err as Error).message}`);
    }
    const { status } = response;
    if (status >= 200 && status < 300) return status;
    if (status === 408 || status === 429 || status >= 500) throw new CallbackUnavailableError(`answered ${status}`);
    throw new CallbackRejectedError(`answered ${status}${status < 400 ? ' (redirects are not followed)' : ''}`);
  }
}
