import { CallbackRejectedError, CallbackSender, CallbackUnavailableError } from '../../src/callbacks/callback-sender';
import { CALLBACK_HEADERS, signCallback, verifyCallback } from '../../src/callbacks/callback-signature';
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

  const sender = (timeoutMs = 2000) =>
    new CallbackSender({ policy: new CallbackUrlPolicy([origin]), signingSecret: SECRET, timeoutMs });
  const delivery = (path = '/hook') => ({
    url: `${origin}${path}`,
    deliveryId: 'job-1-callback',
    body: JSON.stringify({ jobId: 'job-1', jobStatus: 'completed', transcription: 'héllo' }),
  });

  it('when the receiver takes the callback, then it got the body with a delivery id and a signature it can verify', async () => {
    await expect(sender().send(delivery())).resolves.toBe(204);
    const [got] = receiver.received;
    expect(got?.body).toBe(delivery().body);
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers[CALLBACK_HEADERS.delivery]).toBe('job-1-callback');
    const timestamp = got?.headers[CALLBACK_HEADERS.timestamp] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5);
    const signature = got?.headers[CALLBACK_HEADERS.signature] as string;
    expect(verifyCallback(SECRET, { timestamp, signature, body: got!.body })).toBe(true);
  });

  it('when a signature is checked against another body, secret or an old timestamp, then it does not verify', () => {
    const body = '{"jobId":"job-1"}';
    const now = 1_800_000_000;
    const signature = signCallback(SECRET, now, body);
    const timestamp = String(now);
    expect(verifyCallback(SECRET, { timestamp, signature, body }, { nowSeconds: now })).toBe(true);
    expect(verifyCallback(SECRET, { timestamp, signature, body: '{"jobId":"job-2"}' }, { nowSeconds: now })).toBe(
      false,
    );
    expect(verifyCallback(`${SECRET}!`, { timestamp, signature, body }, { nowSeconds: now })).toBe(false);
    expect(verifyCallback(SECRET, { timestamp, signature, body }, { nowSeconds: now + 301 })).toBe(false);
    expect(verifyCallback(SECRET, { timestamp, signature: undefined, body }, { nowSeconds: now })).toBe(false);
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
    await expect(sender(200).send(delivery())).rejects.toThrow(new CallbackUnavailableError('no answer within 200 ms'));
  });

  it('when the URL is no longer on the allow-list, then nothing is sent and the failure is final', async () => {
    const strict = new CallbackSender({
      policy: new CallbackUrlPolicy(['https://hooks.example.com']),
      signingSecret: SECRET,
      timeoutMs: 2000,
    });
    await expect(strict.send(delivery())).rejects.toThrow(CallbackRejectedError);
    expect(receiver.received).toHaveLength(0);
  });
});
