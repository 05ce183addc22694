import {
  CallbackRejectedError,
  CallbackSender,
  CallbackUnavailableError,
  MAX_REPLY_BYTES,
  type CallbackSenderOptions,
  type ResolveHost,
} from '../../src/callbacks/callback-sender';
import {
  CALLBACK_HEADERS,
  callbackSigningKey,
  signCallback,
  verifyCallback,
} from '../../src/callbacks/callback-signature';
import { CallbackUrlPolicy } from '../../src/callbacks/callback-url-policy';
import { WebhookReceiver } from '../support/webhook-receiver';

const SECRET = 'a-signing-secret-of-at-least-32-characters';

describe('CallbackSender against a real HTTP receiver', () => {
  let receiver: WebhookReceiver;
  let origin: string;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    origin = receiver.origin;
  });

  afterAll(() => receiver.stop());

  beforeEach(() => receiver.reset());

  /** The receiver listens on loopback, so these senders allow private addresses unless a test says otherwise. */
  const sender = (options: Partial<CallbackSenderOptions> = {}) =>
    new CallbackSender({
      policy: new CallbackUrlPolicy([origin]),
      signingSecret: SECRET,
      timeoutMs: 2000,
      allowPrivateAddresses: true,
      ...options,
    });
  const delivery = (path = '/hook', userId = 'alice') => ({
    url: `${origin}${path}`,
    deliveryId: 'job-1-callback',
    userId,
    body: JSON.stringify({ jobId: 'job-1', userId, jobStatus: 'completed', transcription: 'héllo' }),
  });

  it("when the receiver takes the callback, then it got the body, a delivery id and a signature made with its user's key for its URL", async () => {
    await expect(sender().send(delivery())).resolves.toMatchObject({ status: 204 });
    const [got] = receiver.received;
    expect(got?.body).toBe(delivery().body);
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers[CALLBACK_HEADERS.delivery]).toBe('job-1-callback');
    expect(got?.headers[CALLBACK_HEADERS.user]).toBe('alice');
    const timestamp = got?.headers[CALLBACK_HEADERS.timestamp] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5);
    const signed = { timestamp, signature: got?.headers[CALLBACK_HEADERS.signature] as string, body: got!.body };
    expect(signed.signature).toMatch(/^v2=[0-9a-f]{64}$/);
    expect(verifyCallback(callbackSigningKey(SECRET, 'alice', `${origin}/hook`), signed)).toBe(true);
    // Not with the service's own secret (no receiver holds it), nor with another user's key or another URL's.
    expect(verifyCallback(SECRET, signed)).toBe(false);
    expect(verifyCallback(callbackSigningKey(SECRET, 'bob', `${origin}/hook`), signed)).toBe(false);
    expect(verifyCallback(callbackSigningKey(SECRET, 'alice', `${origin}/other`), signed)).toBe(false);
  });

  it("when tenant A's job is sent to B's URL, then B's key does not verify it, so A cannot pass as B", async () => {
    await sender().send({ ...delivery('/bob-hook', 'mallory'), body: JSON.stringify({ userId: 'bob' }) });
    const [got] = receiver.received;
    const signed = {
      timestamp: got?.headers[CALLBACK_HEADERS.timestamp] as string,
      signature: got?.headers[CALLBACK_HEADERS.signature] as string,
      body: got!.body,
    };
    expect(verifyCallback(callbackSigningKey(SECRET, 'bob', `${origin}/bob-hook`), signed)).toBe(false);
  });

  it('when a signature is checked against another body, key or an old timestamp, then it does not verify', () => {
    const key = callbackSigningKey(SECRET, 'alice', 'https://hooks.example.com/t');
    const body = '{"jobId":"job-1"}';
    const now = 1_800_000_000;
    const signature = signCallback(key, now, body);
    const timestamp = String(now);
    expect(verifyCallback(key, { timestamp, signature, body }, { nowSeconds: now })).toBe(true);
    expect(verifyCallback(key, { timestamp, signature, body: '{"jobId":"job-2"}' }, { nowSeconds: now })).toBe(false);
    expect(verifyCallback(`${key}!`, { timestamp, signature, body }, { nowSeconds: now })).toBe(false);
    expect(verifyCallback(key, { timestamp, signature, body }, { nowSeconds: now + 301 })).toBe(false);
    expect(verifyCallback(key, { timestamp, signature: undefined, body }, { nowSeconds: now })).toBe(false);
  });

  it.each([503, 429, 408])('when the receiver answers %i, then the attempt fails as retryable', async (status) => {
    receiver.answers.push({ status });
    await expect(sender().send(delivery())).rejects.toThrow(CallbackUnavailableError);
  });

  it('when the receiver answers 410, then the failure is final', async () => {
    receiver.answers.push({ status: 410 });
    await expect(sender().send(delivery())).rejects.toThrow(new CallbackRejectedError('answered 410'));
  });

  it('when the receiver redirects, then the redirect is not followed and the failure is final', async () => {
    receiver.answers.push({ status: 302, headers: { location: `${origin}/elsewhere` } });
    await expect(sender().send(delivery())).rejects.toThrow(CallbackRejectedError);
    expect(receiver.received.map((request) => request.path)).toEqual(['/hook']);
  });

  it('when the receiver is too slow, then the attempt fails as retryable', async () => {
    receiver.answers.push({ status: 204, delayMs: 1000 });
    await expect(sender({ timeoutMs: 200 }).send(delivery())).rejects.toThrow(
      new CallbackUnavailableError('no answer within 200 ms'),
    );
  });

  it('when the URL is no longer on the allow-list, then nothing is sent and the failure is final', async () => {
    const strict = sender({ policy: new CallbackUrlPolicy(['https://hooks.example.com']) });
    await expect(strict.send(delivery())).rejects.toThrow(CallbackRejectedError);
    expect(receiver.received).toHaveLength(0);
  });

  it("when the URL's entry is bound to another user, then nothing is sent and the failure is final", async () => {
    const bound = sender({ policy: new CallbackUrlPolicy([`alice=${origin}`]) });
    await expect(bound.send(delivery('/hook', 'bob'))).rejects.toThrow(
      new CallbackRejectedError(`callback refused: ${origin} is not an allowed callback origin for bob`),
    );
    expect(receiver.received).toHaveLength(0);
    await expect(bound.send(delivery('/hook', 'alice'))).resolves.toMatchObject({ status: 204 });
  });

  it('when the receiver answers with a 64 MiB body, then the worker reads a few KiB of it and drops the connection', async () => {
    const huge = 64 * 1024 * 1024;
    receiver.answers.push({ status: 200, bodyBytes: huge });
    const reply = await sender().send(delivery());
    expect(reply.status).toBe(200);
    // The cap, plus at most the one socket read (64 KiB) that crossed it.
    expect(reply.replyBytes).toBeGreaterThanOrEqual(MAX_REPLY_BYTES);
    expect(reply.replyBytes).toBeLessThanOrEqual(MAX_REPLY_BYTES + 64 * 1024);
    const streamed = await receiver.streamed[0]!;
    // Cut off: what the receiver wrote is only what the sockets' buffers took, nowhere near the 64 MiB.
    expect(streamed.complete).toBe(false);
    expect(streamed.bytesWritten).toBeLessThan(16 * 1024 * 1024);
  });

  describe('where the host leads', () => {
    const NAME = 'hooks.tenant.test';
    const resolving =
      (...addresses: string[]): ResolveHost =>
      async () =>
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    const byName = (options: Partial<CallbackSenderOptions>) =>
      sender({ policy: new CallbackUrlPolicy([`http://${NAME}:${receiver.port}`]), ...options });
    const named = () => ({ ...delivery(), url: `http://${NAME}:${receiver.port}/hook` });

    it('when an allowed name resolves to 127.0.0.1, then it is refused for good and nothing is sent', async () => {
      const resolve = jest.fn(resolving('127.0.0.1'));
      await expect(byName({ resolve, allowPrivateAddresses: false }).send(named())).rejects.toThrow(
        new CallbackRejectedError(
          `callback refused: ${NAME} leads to 127.0.0.1, a loopback address (CALLBACK_ALLOW_PRIVATE_ADDRESSES is off)`,
        ),
      );
      expect(resolve).toHaveBeenCalledWith(NAME);
      expect(receiver.received).toHaveLength(0);
    });

    it('when a name answers one public and one private address, then it is refused', async () => {
      await expect(
        byName({ resolve: resolving('93.184.215.14', '10.0.0.7'), allowPrivateAddresses: false }).send(named()),
      ).rejects.toThrow(/leads to 10\.0\.0\.7, a private address/);
      expect(receiver.received).toHaveLength(0);
    });

    it.each([['http://127.0.0.1'], ['http://[::1]'], ['http://[::ffff:7f00:1]']])(
      'when the URL is the address %s itself, then it is refused without a lookup',
      async (base) => {
        const resolve = jest.fn(resolving('93.184.215.14'));
        const url = `${base}:${receiver.port}`;
        const literal = sender({ policy: new CallbackUrlPolicy([url]), resolve, allowPrivateAddresses: false });
        await expect(literal.send({ ...delivery(), url: `${url}/hook` })).rejects.toThrow(CallbackRejectedError);
        expect(resolve).not.toHaveBeenCalled();
        expect(receiver.received).toHaveLength(0);
      },
    );

    it('when private addresses are allowed, then it is delivered to the address that was checked, under its name', async () => {
      // The name exists in no DNS: the request reaches the receiver only because it connects to the checked address.
      const resolve = jest.fn(resolving('127.0.0.1'));
      await expect(byName({ resolve, allowPrivateAddresses: true }).send(named())).resolves.toMatchObject({
        status: 204,
      });
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(receiver.received[0]?.headers.host).toBe(`${NAME}:${receiver.port}`);
    });

    it('when the name does not resolve, then the attempt fails as retryable', async () => {
      const resolve: ResolveHost = () => Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
      await expect(byName({ resolve }).send(named())).rejects.toThrow(
        new CallbackUnavailableError('unreachable: ENOTFOUND'),
      );
    });
  });
});
