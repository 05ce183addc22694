import type { Context, Middleware, Next, ParameterizedContext } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal';
import type { Logger } from '../logger';
import type { ApiState } from './api-state';
import { UPLOAD_WITHIN_MS } from './deadlines';
import { isServiceFault, toHttpError } from './error-answers';
import { HttpError } from './http-error';
import type { RateDecision, RateLimiter } from './rate-limiter';
import { getJobSchema } from './request-schemas';

/** A client's request id is kept if it is short and plain, so it cannot forge log lines or bloat them. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_URL_LENGTH = 2048;

/** Runs `fn` under a Temporal deadline `extraMs` longer than the usual one. */
export type WithinDeadline = <T>(fn: () => Promise<T>, extraMs: number) => Promise<T>;

/** Every answer carries `X-Request-Id`, and every log line of the request its id. */
export function assignRequestId(logger: Logger): Middleware<ApiState> {
  return async (ctx, next) => {
    const sent = ctx.get('x-request-id');
    const requestId = REQUEST_ID_PATTERN.test(sent) ? sent : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    await next();
  };
}

export async function logRequests(ctx: ParameterizedContext<ApiState>, next: Next): Promise<void> {
  const started = performance.now();
  try {
    await next();
  } finally {
    // The job a request was about, whether named in its path or just started by it.
    const jobId = (ctx.params as Record<string, string> | undefined)?.jobId ?? jobIdOfBody(ctx.body);
    ctx.state.log.info(
      { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), jobId },
      'request',
    );
  }
}

function jobIdOfBody(body: unknown): string | undefined {
  const jobId = (body as { jobId?: unknown } | null | undefined)?.jobId;
  return typeof jobId === 'string' ? jobId : undefined;
}

/** Every error becomes a JSON answer; the real cause of a 5xx goes to the log, under the request's id. */
export async function renderErrors(ctx: ParameterizedContext<ApiState>, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const error = toHttpError(err);
    ctx.status = error.status;
    ctx.set(error.headers);
    ctx.body = { error: { code: error.code, message: error.message, details: error.details } };
    if (isServiceFault(err, error)) ctx.state.log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
  }
}

/**
 * Gives the answers no route wrote (404 for an unknown path, the router's 405 with its `Allow` header) the same
 * JSON error body as every other error.
 */
export async function describeUnrouted(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.body !== undefined && ctx.body !== null) return;
  if (ctx.status === 404) {
    ctx.body = { error: { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}`, details: null } };
    ctx.status = 404;
  } else if (ctx.status === 405 || ctx.status === 501) {
    // The router answers 501 to methods it has no handler for anywhere (TRACE, say); for a path that exists, the
    // client's mistake is the method, which is a 405 with the methods that are allowed.
    const allowed = ctx.response.get('Allow');
    const message = `${ctx.method} is not allowed here; allowed: ${allowed}`;
    ctx.body = { error: { code: 'method_not_allowed', message, details: null } };
    ctx.status = 405;
  }
}

/**
 * A fixed path that a parameterized route also matches answers only its own methods: `/transcript/search` would
 * otherwise be offered the job's DELETE (and routed to a job named "search"), and `/audio/uploads` a file's GET and
 * DELETE.
 */
export function onlyMethods(path: string, methods: readonly string[]): Middleware {
  const allowed = methods.join(', ');
  return async (ctx, next) => {
    if (ctx.path !== path || methods.includes(ctx.method)) {
      await next();
      return;
    }
    ctx.set('Allow', allowed);
    if (ctx.method === 'OPTIONS') {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    ctx.status = 405;
  };
}

export async function rejectOversizedUrls(ctx: Context, next: Next): Promise<void> {
  if (ctx.url.length > MAX_URL_LENGTH) {
    throw new HttpError(414, 'uri_too_long', `the request URL is longer than ${MAX_URL_LENGTH} characters`);
  }
  await next();
}

/**
 * Runs the request under the Temporal deadline and, as a backstop for everything else that can be slow under load
 * (the codec, a history fallback after a timed-out query), answers 503 when the time is up.
 */
export function answerInTime(budgetMs: number, withinDeadline: WithinDeadline): Middleware<ApiState> {
  return async (ctx, next) => {
    // A long-poll asked to be held that long; the budget for answering starts after it.
    const waitMs = requestedWaitMs(ctx);
    const ms = (isUpload(ctx) ? UPLOAD_WITHIN_MS : budgetMs) + waitMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      const timeout = new HttpError(503, 'timeout', 'the answer took too long; try again shortly', null, {
        'Retry-After': '2',
      });
      timer = setTimeout(() => reject(timeout), ms);
    });
    const work = withinDeadline(next, waitMs);
    // Once the 503 is out, whatever the abandoned work ends with has no one left to hear it.
    work.catch(() => undefined);
    try {
      await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function isUpload(ctx: Context): boolean {
  return ctx.method === 'POST' && ctx.path === '/audio';
}

/** The `wait` a job read asks for, if it is a valid one (the route itself rejects an invalid one). */
function requestedWaitMs(ctx: Context): number {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/transcript/')) return 0;
  const parsed = getJobSchema.safeParse({ wait: ctx.query.wait });
  return parsed.success ? (parsed.data.wait ?? 0) * 1000 : 0;
}

/** Proves who is calling from the `Authorization` header; everyone, when authentication is off (loopback only). */
export function authenticateCaller(
  authenticate: ((authorization: string | undefined) => Principal) | undefined,
): Middleware<ApiState> {
  return async (ctx, next) => {
    ctx.state.caller = authenticate
      ? { authenticated: true, principal: authenticate(ctx.get('authorization') || undefined) }
      : { authenticated: false };
    await next();
  };
}

/** Per user (or per address, without authentication): past the rate, 429 with `Retry-After`. */
export function limitRate(rateLimiter: Pick<RateLimiter, 'take'>): Middleware<ApiState> {
  return async (ctx, next) => {
    const { caller } = ctx.state;
    // Without authentication (loopback only) each address is a user; its key differs from the address limit's.
    refuseWhenLimited(
      await rateLimiter.take(caller.authenticated ? `user:${caller.principal.userId}` : `anonymous:${ctx.ip}`),
    );
    await next();
  };
}

/**
 * Requests that prove no one, per client address, before anything else is done for them: those without
 * credentials (the public routes, the codec sign-in) spend from the address's allowance as they arrive; those with
 * credentials that turn out not to be valid spend once they fail, so guessing keys costs too. An address that has
 * spent it gets 429 before its credentials are even looked at. Authenticated requests spend from their user's
 * allowance instead (see {@link limitRate}).
 */
export function limitUnauthenticatedByAddress(rateLimiter: RateLimiter): Middleware<ApiState> {
  return async (ctx, next) => {
    const key = `ip:${ctx.ip}`;
    const carriesCredentials = ctx.get('authorization') !== '';
    refuseWhenLimited(await (carriesCredentials ? rateLimiter.peek(key) : rateLimiter.take(key)));
    try {
      await next();
    } finally {
      // No caller was set: the credentials were refused before any route could use them.
      if (carriesCredentials && (ctx.state as Partial<ApiState>).caller === undefined) await rateLimiter.take(key);
    }
  };
}

function refuseWhenLimited(decision: RateDecision): void {
  if (decision.allowed) return;
  throw new HttpError(429, 'rate_limited', 'too many requests; slow down', null, {
    'Retry-After': String(Math.ceil(decision.retryAfterMs / 1000)),
  });
}
