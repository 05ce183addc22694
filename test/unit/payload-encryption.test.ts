import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { DefaultPayloadConverter, type Payload } from '@temporalio/common';
import request from 'supertest';
import {
  AesGcmPayloadCodec,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  UnencryptedPayloadError,
} from '../../src/codec/aes-gcm-payload-codec';
import { generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { ApiKeyStore, parseApiKeyList } from '../../src/auth/api-keys';
import { BearerAuthenticator } from '../../src/auth/bearer-authenticator';
import { createCodecRouter } from '../../src/api/routes/codec-routes';
import { CodecSessions } from '../../src/api/codec-sessions';
import { CodecSessionRevocations } from '../../src/jobs-database/codec-session-revocations';
import { migrate } from '../../src/jobs-database/migrations';
import { openSqlite } from '../../src/jobs-database/sqlite-connection';
import { answerErrors } from '../support/codec-app';

const converter = new DefaultPayloadConverter();
const TRANSCRIPT = { transcript: 'the quarterly numbers are confidential', attempt: 1 };

describe('AesGcmPayloadCodec', () => {
  const oldKey = generateEncryptionKey('2026-01');
  const newKey = generateEncryptionKey('2026-11');
  const codec = new AesGcmPayloadCodec(parseEncryptionKeys(oldKey));

  it('when a payload is encoded and decoded, then it comes back whole, and the stored bytes hide it', async () => {
    const payload = converter.toPayload(TRANSCRIPT);
    const [encrypted] = await codec.encode([payload]);
    expect(Buffer.from(encrypted!.data!).includes('confidential')).toBe(false);
    expect(Buffer.from(encrypted!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(encrypted!.metadata![KEY_ID_METADATA]!).toString()).toBe('2026-01');
    const [decoded] = await codec.decode([encrypted!]);
    expect(converter.fromPayload(decoded!)).toEqual(TRANSCRIPT);
  });

  it('when the same payload is encoded twice, then the ciphertexts differ (a fresh nonce each time)', async () => {
    const payload = converter.toPayload(TRANSCRIPT);
    const [a, b] = await codec.encode([payload, payload]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('when keys rotate, then old payloads still decode and new ones use the new key', async () => {
    const [old] = await codec.encode([converter.toPayload(TRANSCRIPT)]);
    const rotated = new AesGcmPayloadCodec(parseEncryptionKeys(`${newKey},${oldKey}`));
    expect(converter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual(TRANSCRIPT);
    const [fresh] = await rotated.encode([converter.toPayload(TRANSCRIPT)]);
    expect(Buffer.from(fresh!.metadata![KEY_ID_METADATA]!).toString()).toBe('2026-11');
    await expect(codec.decode([fresh!])).rejects.toThrow(/unknown key "2026-11"/);
  });

  it('when the data or the key id is tampered with, then decoding fails authentication', async () => {
    const [encrypted] = await codec.encode([converter.toPayload(TRANSCRIPT)]);
    const flipped = Buffer.from(encrypted!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    const both = new AesGcmPayloadCodec(parseEncryptionKeys(`${oldKey},${generateEncryptionKey('other')}`));
    const swapped: Payload = {
      ...encrypted!,
      metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('other') },
    };
    await expect(both.decode([swapped])).rejects.toThrow(/failed authentication/);
  });

  it('when a payload names a key id that is not one, then the error does not repeat it', async () => {
    const [encrypted] = await codec.encode([converter.toPayload(TRANSCRIPT)]);
    const bogus = 'x'.repeat(5000);
    const forged: Payload = {
      ...encrypted!,
      metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from(bogus) },
    };
    await expect(codec.decode([forged])).rejects.toThrow('payload encrypted with unknown key (not a key id)');
  });

  it('when a payload was never encrypted, then decoding refuses it', async () => {
    const plain = converter.toPayload(TRANSCRIPT);
    await expect(codec.decode([plain])).rejects.toThrow(UnencryptedPayloadError);
  });

  it.each([
    ['not base64', 'k1:%%%%'],
    ['a 16-byte key', `k1:${Buffer.alloc(16, 1).toString('base64')}`],
    ['a duplicate id', `${generateEncryptionKey('k1')},${generateEncryptionKey('k1')}`],
    ['no id', Buffer.alloc(32, 1).toString('base64')],
    ['a key written before its id', `${Buffer.alloc(16, 7).toString('base64').replace(/=+$/, '')}:k1`],
  ])('when the key list has %s, then parsing fails without showing key material', (_, value) => {
    expect(() => parseEncryptionKeys(value)).toThrow(/key 1|key 2/);
    try {
      parseEncryptionKeys(value);
    } catch (err) {
      for (const part of value.split(/[:,]/).filter((piece) => piece.length > 8)) {
        expect((err as Error).message).not.toContain(part);
      }
    }
  });
});

describe('codec endpoint', () => {
  const UI = 'http://127.0.0.1:8233';
  const OPS_KEY = 'ops-key-0123456789abcdef';
  const USER_KEY = 'alice-key-0123456789abcdef';
  const codec = new AesGcmPayloadCodec(parseEncryptionKeys(generateEncryptionKey('k1')));
  let now = Date.now();
  const authenticator = new BearerAuthenticator({
    apiKeys: new ApiKeyStore(parseApiKeyList(`${OPS_KEY}:ops:operator,${USER_KEY}:alice:user`)),
  });
  const revocationsDb = openSqlite(path.join(mkdtempSync(path.join(os.tmpdir(), 'codec-endpoint-')), 'jobs.sqlite'));
  const sessions = new CodecSessions(codec.deriveKey('codec-session-v1'), {
    credentials: authenticator,
    revocations: new CodecSessionRevocations(revocationsDb),
    now: () => now,
  });
  beforeAll(() => migrate(revocationsDb));
  afterAll(() => revocationsDb.close());
  const app = new Koa();
  app.use(answerErrors);
  app.use(
    createCodecRouter({
      codec,
      authenticate: (header) => authenticator.authenticate(header),
      sessions,
      allowedOrigins: [UI],
    }).routes(),
  );
  const server = app.callback();
  const ops = { authorization: `Bearer ${OPS_KEY}` };
  const asJson = (payload: Payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  });

  beforeEach(() => {
    now = Date.now();
  });

  it('when an operator decodes what encode produced, then the plaintext payload comes back', async () => {
    const plain = asJson(converter.toPayload(TRANSCRIPT));
    const encoded = await request(server)
      .post('/codec/encode')
      .set(ops)
      .send({ payloads: [plain] });
    expect(encoded.status).toBe(200);
    expect(encoded.body.payloads[0].data).not.toBe(plain.data);
    const decoded = await request(server)
      .post('/codec/decode?preserveStorageRefs=true')
      .set(ops)
      .set('x-namespace', 'default')
      .send(encoded.body);
    expect(decoded.status).toBe(200);
    expect(decoded.body).toEqual({ payloads: [plain] });
  });

  it('when the caller is not an operator or not authenticated, then it is refused', async () => {
    const body = { payloads: [] };
    expect(
      (await request(server).post('/codec/decode').set('authorization', `Bearer ${USER_KEY}`).send(body)).status,
    ).toBe(403);
    expect((await request(server).post('/codec/decode').send(body)).status).toBe(401);
  });

  it('when an operator signs this browser in, then its cookie decodes until it expires, and a forged one never does', async () => {
    const form = await request(server).get('/codec/session');
    expect(form.status).toBe(200);
    expect(form.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(form.text).toContain('<form method="post"');

    const refused = await request(server).post('/codec/session').type('form').send({ key: USER_KEY });
    expect(refused.status).toBe(403);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(
      (await request(server).post('/codec/session').type('form').send({ key: 'nope-nope-nope-nope' })).status,
    ).toBe(401);

    const signedIn = await request(server).post('/codec/session').type('form').send({ key: OPS_KEY });
    expect(signedIn.status).toBe(200);
    const cookie = String(signedIn.headers['set-cookie']);
    expect(cookie).toMatch(/codec_session=.+; path=\/codec; .*samesite=strict; httponly/i);
    const session = cookie.split(';')[0] as string;
    const decode = (cookieHeader: string) =>
      request(server).post('/codec/decode').set('cookie', cookieHeader).set('origin', UI).send({ payloads: [] });
    const withCookie = await decode(session);
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers['access-control-allow-credentials']).toBe('true');

    const [name, value] = session.split('=') as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ sub: 'ops', exp: 9e9 })).toString('base64url');
    expect((await decode(`${name}=${forgedBody}.${value.split('.')[1]}`)).status).toBe(401);
    now += 9 * 60 * 60 * 1000;
    expect((await decode(session)).status).toBe(401);
  });

  it('when the Web UI preflights from its origin, then CORS allows it without credentials; other origins get nothing', async () => {
    const preflight = (origin: string) =>
      request(server)
        .options('/codec/decode')
        .set('origin', origin)
        .set('access-control-request-method', 'POST')
        .set('access-control-request-headers', 'authorization,content-type,x-namespace');
    const allowed = await preflight(UI);
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(UI);
    expect(allowed.headers['access-control-allow-headers']).toMatch(/Authorization/);
    const other = await preflight('https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('when the body is malformed or a payload cannot be decrypted, then the answer is a 400 naming why', async () => {
    const malformed = await request(server)
      .post('/codec/decode')
      .set(ops)
      .send({ payloads: [{ data: 'not base64!' }] });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details[0].field).toBe('payloads[0].data');
    const foreign = new AesGcmPayloadCodec(parseEncryptionKeys(generateEncryptionKey('k9')));
    const [sealed] = await foreign.encode([converter.toPayload(TRANSCRIPT)]);
    const undecryptable = await request(server)
      .post('/codec/decode')
      .set(ops)
      .send({ payloads: [asJson(sealed!)] });
    expect(undecryptable.status).toBe(400);
    expect(undecryptable.body.error.code).toBe('undecryptable_payload');
  });
});
