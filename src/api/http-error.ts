/** One problem with a request, pointing at the field it concerns. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * An error the client may see: its status, a stable machine-readable code and a message safe to show.
 * Anything else that reaches the error middleware is answered as an opaque 500.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] | Record<string, unknown> | null = null,
    /** Headers the answer must carry, e.g. `Retry-After` or `WWW-Authenticate`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A request that fails validation: 400, naming each field that is wrong. */
export function invalidRequest(problems: FieldProblem[]): HttpError {
  const summary = problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
  return new HttpError(400, 'invalid_request', `invalid request: ${summary}`, problems);
}
