import { ASR_REJECTED_ERROR, ASR_UNAVAILABLE_ERROR } from '../../workflows/contract';

/** The ASR could not answer now (5xx, 408, 429, timeout, refused connection, garbled reply): worth retrying. */
export class AsrUnavailableError extends Error {
  override readonly name = ASR_UNAVAILABLE_ERROR;
  constructor(
    message: string,
    readonly details: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
  }
}

/** The ASR refused the request itself (a 4xx other than 408 and 429): the same request can never succeed. */
export class AsrRejectedError extends Error {
  override readonly name = ASR_REJECTED_ERROR;
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
