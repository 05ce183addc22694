import type Router from '@koa/router';
import { z } from 'zod';
import type { CallbackUrlPolicy } from '../../callbacks/callback-url-policy';
import type { ApiState } from '../api-state';
import { actingUserId } from '../caller';
import { invalidRequest } from '../http-error';
import { parseRequest, userIdSchema } from '../request-schemas';

export interface CallbackRouteDependencies {
  /** Hands out receivers' keys only when built with CALLBACK_SIGNING_SECRET; without it every URL is a 400. */
  callbackPolicy: Pick<CallbackUrlPolicy, 'refusal'> & Partial<Pick<CallbackUrlPolicy, 'signingKey'>>;
}

export const signingKeyQuerySchema = z.strictObject({
  url: z.string().min(1).max(2048).meta({
    description: 'The callback URL, exactly as jobs will name it in `callbackUrl`.',
    example: 'https://hooks.example.com/transcripts',
  }),
  userId: userIdSchema.optional(),
});

export const signingKeyResponseSchema = z.object({
  userId: z.string().meta({ description: 'The user whose jobs this key verifies.' }),
  url: z.string().meta({ description: 'The callback URL the key is for.' }),
  signingKey: z.string().meta({
    description:
      'The HMAC-SHA256 key this receiver verifies `X-Transcription-Signature` with: derived for this user and URL alone, so it neither signs nor verifies anyone else’s callbacks.',
  }),
  signatureVersion: z.literal('v2'),
});

/**
 * `GET /callbacks/signing-key`: the key the caller's receiver at a callback URL verifies callbacks with. Each user
 * gets a key of their own per URL, derived on the server from CALLBACK_SIGNING_SECRET, which never leaves it.
 */
export function registerCallbackRoutes(router: Router<ApiState>, deps: CallbackRouteDependencies): void {
  router.get('/callbacks/signing-key', (ctx) => {
    const query = parseRequest(signingKeyQuerySchema, ctx.query);
    // Only as oneself, operators too: a key is a tenant's own.
    const userId = actingUserId(ctx.state.caller, query.userId, 'submit');
    const found = deps.callbackPolicy.signingKey?.(query.url, userId) ?? {
      refusal: 'this service does not sign callbacks',
    };
    if ('refusal' in found) throw invalidRequest([{ field: 'url', message: found.refusal }]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { userId, url: query.url, signingKey: found.key, signatureVersion: 'v2' };
  });
}
