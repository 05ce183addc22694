import type { Logger } from '../logger';
import type { Caller } from './caller';

/** What the middleware learns of a request before its route runs. */
export interface ApiState {
  caller: Caller;
  /** This request's id: the client's `X-Request-Id` if it sent a sane one, otherwise a fresh UUID. */
  requestId: string;
  /** The logger for this request: every line carries its request id. */
  log: Logger;
}
