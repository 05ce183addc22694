import cors from '@koa/cors';
import Router from '@koa/router';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AuthenticationError } from '../../auth/auth-errors';
import type { Principal } from '../../auth/principal';
import { PayloadDecryptionError } from '../../codec/aes-gcm-payload-codec';
import { CODEC_SESSION_COOKIE, type CodecSessions } from '../codec-sessions';
import { HttpError } from '../http-error';
import { readBodyText, readJsonBody } from '../read-json-body';
import { parseRequest, userIdSchema } from '../request-schemas';

const base64 = z
  .string()
  .max(4 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** Payloads in protobuf JSON form, bytes as base64: the body of Temporal's remote codec protocol, both ways. */
export const codecPayloadsSchema = z.strictObject({
  payloads: z
    .array(z.strictObject({ metadata: z.record(z.string().max(256), base64).optional(), data: base64.optional() }))
    .max(1000),
});

type JsonPayloads = z.output<typeof codecPayloadsSchema>;

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_FORM_BYTES = 4096;

export interface CodecRouterDependencies {
  codec: PayloadCodec;
  /** Proves who is calling from an `Authorization` header; absent only when authentication is off. */
  authenticate: ((authorization: string | undefined) => Principal) | undefined;
  sessions: CodecSessions;
  allowedOrigins: readonly string[];
}

/**
 * `POST /codec/encode` and `POST /codec/decode`: the remote codec the Temporal Web UI and CLI call to show the
 * encrypted payloads of jobs. Operators only, by bearer credentials or by the browser session that
 * `/codec/session` signs them into (for a Web UI that has no login of its own to pass on). Browsers may call it
 * from the allowed origins (the Web UI's); their preflight, which carries no credentials, is answered without any.
 */
export function createCodecRouter(deps: CodecRouterDependencies): Router {
  const router = new Router({ prefix: '/codec' });
  const allowBrowsers = cors({
    origin: (ctx) => {
      const origin = ctx.get('origin');
      return deps.allowedOrigins.includes(origin) ? origin : '';
    },
    allowMethods: ['POST'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Namespace'],
    credentials: true,
    maxAge: 600,
  });
  const requireOperator: Middleware = async (ctx, next) => {
    if (deps.authenticate) {
      const authorization = ctx.get('authorization') || undefined;
      const session = authorization ? undefined : await deps.sessions.verify(ctx.cookies.get(CODEC_SESSION_COOKIE));
      const principal = session ?? deps.authenticate(authorization);
      if (principal.role !== 'operator')
        throw new HttpError(403, 'forbidden', 'only operators may use the codec endpoint');
    }
    await next();
  };
  const transform = (direction: 'encode' | 'decode'): Middleware => {
    return async (ctx) => {
      const body = parseRequest(codecPayloadsSchema, await readJsonBody(ctx, MAX_BODY_BYTES));
      try {
        ctx.body = toJson(await deps.codec[direction](fromJson(body)));
      } catch (err) {
        if (!(err instanceof PayloadDecryptionError)) throw err;
        throw new HttpError(400, 'undecryptable_payload', err.message);
      }
    };
  };
  // Preflights are routes of their own: router-wide middleware would only run for methods that have a route.
  router.options(['/encode', '/decode'], allowBrowsers);
  router.post('/encode', allowBrowsers, requireOperator, transform('encode'));
  router.post('/decode', allowBrowsers, requireOperator, transform('decode'));

  registerSessionRoutes(router, deps);
  return router;
}

/**
 * The browser's sign-in for the codec endpoint (`/codec/session`), its sign-out, and operators' revocation of
 * another operator's sessions.
 */
function registerSessionRoutes(router: Router, deps: CodecRouterDependencies): void {
  router.get('/session', (ctx) => page(ctx, 200, signInForm()));
  router.post('/session', async (ctx) => {
    const key = await readFormField(ctx, 'key');
    let principal: Principal;
    try {
      principal = deps.authenticate
        ? deps.authenticate(`Bearer ${key}`)
        : { userId: 'anyone', role: 'operator', method: 'session' };
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      return page(ctx, 401, signInForm('That key is not valid.'));
    }
    if (principal.role !== 'operator') return page(ctx, 403, signInForm('That key is not an operator’s.'));
    const session = deps.sessions.issue(principal);
    ctx.cookies.set(CODEC_SESSION_COOKIE, session.value, {
      ...sessionCookie(ctx),
      maxAge: session.maxAgeSeconds * 1000,
    });
    page(
      ctx,
      200,
      `<h1>Signed in as ${escapeHtml(principal.userId)}</h1><p>Until ${escapeHtml(new Date(Date.now() + session.maxAgeSeconds * 1000).toISOString())} (or until you sign out, or the key you signed in with is withdrawn) this browser may decode job data. In the Temporal Web UI, open the data encoder settings, set the codec endpoint to <code>${escapeHtml(`${ctx.origin}/codec`)}</code> and turn on <em>include cross-origin credentials</em>.</p>${signOutForm()}`,
    );
  });
  // Signing out revokes the session in every API process, not only this browser's copy of the cookie.
  const signOut = async (ctx: Context) => {
    await deps.sessions.signOut(ctx.cookies.get(CODEC_SESSION_COOKIE));
    ctx.cookies.set(CODEC_SESSION_COOKIE, '', { ...sessionCookie(ctx), maxAge: 0 });
  };
  router.delete('/session', async (ctx) => {
    await signOut(ctx);
    ctx.status = 204;
  });
  router.post('/session/sign-out', async (ctx) => {
    await signOut(ctx);
    page(ctx, 200, `<h1>Signed out</h1><p>This browser can no longer decode job data.</p>`);
  });
  // Another operator's sessions (a lost laptop, a leaked cookie): by bearer credentials only, never by a session.
  router.delete('/sessions/:userId', async (ctx) => {
    if (deps.authenticate) {
      const principal = deps.authenticate(ctx.get('authorization') || undefined);
      if (principal.role !== 'operator') throw new HttpError(403, 'forbidden', 'only operators may revoke sessions');
    }
    const { userId } = parseRequest(z.strictObject({ userId: userIdSchema }), { userId: ctx.params.userId });
    await deps.sessions.revokeAllOf(userId);
    ctx.status = 204;
  });
}

/** The session cookie's attributes: sent only back to the codec endpoint, never to scripts or other sites. */
function sessionCookie(ctx: Context) {
  // ctx.secure is the proxy's word for it when TRUST_PROXY is on: behind a TLS proxy the cookie is then Secure.
  return { httpOnly: true, sameSite: 'strict', path: '/codec', secure: ctx.secure } as const;
}

async function readFormField(ctx: Context, field: string): Promise<string> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new HttpError(415, 'unsupported_media_type', 'the body must be a form (application/x-www-form-urlencoded)');
  }
  const text = await readBodyText(ctx, MAX_FORM_BYTES);
  return new URLSearchParams(text).get(field)?.trim() ?? '';
}

function page(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  // Nothing on this page loads from anywhere; it only posts back to itself.
  ctx.set(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  );
  ctx.set('Cache-Control', 'no-store');
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Codec sign-in</title><style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}input{font:inherit;width:100%;padding:.4rem}button{font:inherit;margin-top:.8rem;padding:.4rem 1rem}</style></head><body>${body}</body></html>`;
}

function signOutForm(): string {
  return `<form method="post" action="session/sign-out"><button type="submit">Sign out</button></form>`;
}

function signInForm(problem?: string): string {
  return `<h1>Let this browser decode job data</h1><p>Job data is encrypted inside Temporal. Sign in with an operator API key so the Temporal Web UI, in this browser, can decode it through this API.</p>${problem ? `<p role="alert"><strong>${escapeHtml(problem)}</strong></p>` : ''}<form method="post" action="session"><label>Operator API key <input name="key" type="password" autocomplete="off" required></label><button type="submit">Sign in</button></form>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function fromJson({ payloads }: JsonPayloads): Payload[] {
  return payloads.map((payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  }));
}

function toJson(payloads: Payload[]): JsonPayloads {
  return {
    payloads: payloads.map((payload) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([key, value]) => [
          key,
          Buffer.from(value ?? []).toString('base64'),
        ]),
      ),
      data: Buffer.from(payload.data ?? []).toString('base64'),
    })),
  };
}
