import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import type { ApiState } from '../../src/api/api-state';
import { renderErrors } from '../../src/api/middleware';
import { registerCallbackRoutes } from '../../src/api/routes/callback-routes';
import { callbackSigningKey } from '../../src/callbacks/callback-signature';
import { CallbackUrlPolicy } from '../../src/callbacks/callback-url-policy';

const SECRET = 'a-signing-secret-of-at-least-32-characters';

/** The route behind a stand-in for authentication that makes every request alice's. */
function app(policy: CallbackUrlPolicy) {
  const koa = new Koa<ApiState>();
  koa.use(renderErrors);
  koa.use(async (ctx, next) => {
    ctx.state.caller = { authenticated: true, principal: { userId: 'alice', role: 'user', method: 'api-key' } };
    await next();
  });
  const router = new Router<ApiState>();
  registerCallbackRoutes(router, { callbackPolicy: policy });
  koa.use(router.routes());
  return koa.callback();
}

describe('GET /callbacks/signing-key', () => {
  const policy = new CallbackUrlPolicy(['https://shared.example.com', 'bob=https://hooks.bob.example'], {
    signingSecret: SECRET,
  });

  it("when a user asks for an allowed URL, then the answer is the caller's own key for it, not to be cached", async () => {
    const url = 'https://shared.example.com/t';
    const reply = await request(app(policy)).get('/callbacks/signing-key').query({ url });
    expect(reply.status).toBe(200);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.body).toEqual({
      userId: 'alice',
      url,
      signingKey: callbackSigningKey(SECRET, 'alice', url),
      signatureVersion: 'v2',
    });
  });

  it("when a user asks for another user's key or URL, then it is refused", async () => {
    const asBob = await request(app(policy))
      .get('/callbacks/signing-key')
      .query({ url: 'https://shared.example.com/t', userId: 'bob' });
    expect(asBob.status).toBe(403);
    const bobsUrl = await request(app(policy))
      .get('/callbacks/signing-key')
      .query({ url: 'https://hooks.bob.example/t' });
    expect(bobsUrl.status).toBe(400);
    expect(bobsUrl.body.error.details).toEqual([
      { field: 'url', message: 'https://hooks.bob.example is not an allowed callback origin for alice' },
    ]);
  });

  it('when the API was given no signing secret, then there is no key to hand out', async () => {
    const reply = await request(app(new CallbackUrlPolicy(['https://shared.example.com'])))
      .get('/callbacks/signing-key')
      .query({ url: 'https://shared.example.com/t' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details).toEqual([{ field: 'url', message: 'this service does not sign callbacks' }]);
  });
});
