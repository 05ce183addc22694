import cors from '@koa/cors';
import Router from '@koa/router';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { PayloadDecryptionError } from '../codec/aes-gcm-payload-codec';
import { HttpError } from './http-error';
import { readJsonBody } from './read-json-body';
import { parseRequest } from './request-schemas';

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

/**
 * `POST /codec/encode` and `POST /codec/decode`: the remote codec the Temporal Web UI and CLI call to show the
 * encrypted payloads of jobs. Operators only; browsers may call it from the allowed origins (the Web UI's), and
 * their preflight, which carries no credentials, is answered without any.
 */
export function createCodecRouter(deps: {
  codec: PayloadCodec;
  requireOperator: Middleware;
  allowedOrigins: readonly string[];
}): Router {
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
  const transform = (direction: 'encode' | 'decode'): Middleware => {
    return async (ctx) => {
      const body = parseRequest(codecPayloadsSchema, await readJsonBody(ctx, MAX_BODY_BYTES));
      const payloads = fromJson(body);
      try {
        ctx.body = toJson(await deps.codec[direction](payloads));
      } catch (err) {
        if (!(err instanceof PayloadDecryptionError)) throw err;
        throw new HttpError(400, 'undecryptable_payload', err.message);
      }
    };
  };
  // Preflights are routes of their own: router-wide middleware would only run for methods that have a route.
  router.options(['/encode', '/decode'], allowBrowsers);
  router.post('/encode', allowBrowsers, deps.requireOperator, transform('encode'));
  router.post('/decode', allowBrowsers, deps.requireOperator, transform('decode'));
  return router;
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
