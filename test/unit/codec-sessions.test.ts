import jwt from 'jsonwebtoken';
import Koa from 'koa';
import path from 'node:path';
import request from 'supertest';
import { CodecSessions } from '../../src/api/codec-sessions';
import { createCodecRouter } from '../../src/api/routes/codec-routes';
import { ApiKeyStore, parseApiKeyList } from '../../src/auth/api-keys';
import { BearerAuthenticator } from '../../src/auth/bearer-authenticator';
import { JwtVerifier } from '../../src/auth/jwt-verifier';
import { AesGcmPayloadCodec } from '../../src/codec/aes-gcm-payload-codec';
import { generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { CodecSessionRevocations } from '../../src/jobs-database/codec-session-revocations';
import { migrate } from '../../src/jobs-database/migrations';
import type { SqlConnection } from '../../src/jobs-database/sql-connection';
import { openSqlite } from '../../src/jobs-database/sqlite-connection';
import { answerErrors } from '../support/codec-app';
import { tempDir } from '../support/temp-dir';

/**
 * Codec sessions as operators and browsers meet them: a session ends with the credential that opened it, signing
 * out or an operator's revocation holds in every API process of the fleet (they share the jobs database), and the
 * cookie is Secure behind a TLS proxy the API is told to trust.
 */
const OPS_KEY = 'ops-key-0123456789abcdef';
const LEAD_KEY = 'lead-key-0123456789abcdef';
const USER_KEY = 'alice-key-0123456789abcdef';
const JWT_SECRET = 'a-shared-secret-of-at-least-32-bytes!!';
const ISSUER = 'https://id.example.com';
const AUDIENCE = 'transcription';

const codec = new AesGcmPayloadCodec(parseEncryptionKeys(generateEncryptionKey('k1')));
let now = Date.now();
let databaseFile: string;
const connections: SqlConnection[] = [];

/** One API process's codec endpoint: its own credentials and database connection, the fleet's shared keys. */
async function apiProcess(options: { apiKeys?: string; trustProxy?: boolean } = {}) {
  const jwtVerifier = await JwtVerifier.create({
    hs256Secret: JWT_SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    userIdPrefix: 'jwt:id.example.com:',
  });
  const authenticator = new BearerAuthenticator({
    apiKeys: new ApiKeyStore(
      parseApiKeyList(options.apiKeys ?? `${OPS_KEY}:ops:operator,${LEAD_KEY}:lead:operator,${USER_KEY}:alice:user`),
    ),
    jwt: jwtVerifier,
  });
  const sql = openSqlite(databaseFile);
  connections.push(sql);
  const app = new Koa({ proxy: options.trustProxy ?? false });
  app.use(answerErrors);
  const sessions = new CodecSessions(codec.deriveKey('codec-session-v1'), {
    credentials: authenticator,
    // The test's clock for revocations too: a sign-in after a revocation is after it however slow the machine.
    revocations: new CodecSessionRevocations(sql, () => now),
    now: () => now,
  });
  app.use(
    createCodecRouter({
      codec,
      authenticate: (header) => authenticator.authenticate(header),
      sessions,
      allowedOrigins: [],
    }).routes(),
  );
  return app.callback();
}

async function signIn(server: Awaited<ReturnType<typeof apiProcess>>, key: string): Promise<string> {
  const answer = await request(server).post('/codec/session').type('form').send({ key });
  expect(answer.status).toBe(200);
  return String(answer.headers['set-cookie']).split(';')[0] as string;
}

async function decodes(server: Awaited<ReturnType<typeof apiProcess>>, cookie: string): Promise<boolean> {
  const answer = await request(server).post('/codec/decode').set('cookie', cookie).send({ payloads: [] });
  expect([200, 401]).toContain(answer.status);
  return answer.status === 200;
}

beforeAll(async () => {
  databaseFile = path.join(await tempDir('codec-sessions'), 'jobs.sqlite');
  const sql = openSqlite(databaseFile);
  await migrate(sql);
  await sql.close();
});

beforeEach(() => {
  now = Date.now();
});

afterAll(async () => {
  await Promise.all(connections.map((sql) => sql.close()));
});

describe('codec sessions', () => {
  it('when an operator signs in with a JWT that expires in two minutes, then the session ends with it, not hours later', async () => {
    const server = await apiProcess();
    const token = jwt.sign({ sub: 'ops', role: 'operator' }, JWT_SECRET, {
      algorithm: 'HS256',
      issuer: ISSUER,
      audience: AUDIENCE,
      expiresIn: 120,
    });
    const answer = await request(server).post('/codec/session').type('form').send({ key: token });
    expect(answer.status).toBe(200);
    const cookie = String(answer.headers['set-cookie']);
    // The browser drops it then too (the header's expiry has whole seconds).
    expect(Date.parse(/expires=([^;]+)/i.exec(cookie)?.[1] ?? '') - Date.now()).toBeLessThanOrEqual(121_000);
    const session = cookie.split(';')[0] as string;
    expect(await decodes(server, session)).toBe(true);
    now += 121_000;
    expect(await decodes(server, session)).toBe(false);
  });

  it('when a browser signs out in one API process, then its cookie, replayed, is refused by every other', async () => {
    const [first, second] = [await apiProcess(), await apiProcess()];
    const session = await signIn(first, OPS_KEY);
    expect(await decodes(second, session)).toBe(true);

    const signedOut = await request(first).delete('/codec/session').set('cookie', session);
    expect(signedOut.status).toBe(204);
    expect(String(signedOut.headers['set-cookie'])).toMatch(/codec_session=;/);
    expect(await decodes(first, session)).toBe(false);
    expect(await decodes(second, session)).toBe(false);
    // The same operator's other browser is not signed out.
    expect(await decodes(second, await signIn(second, OPS_KEY))).toBe(true);
  });

  it('when the sign-out button is pressed, then the page says so and the session is over', async () => {
    const server = await apiProcess();
    const session = await signIn(server, OPS_KEY);
    const page = await request(server).post('/codec/session/sign-out').set('cookie', session);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Signed out');
    expect(await decodes(server, session)).toBe(false);
  });

  it("when an operator revokes another operator's sessions, then every one of them stops, and a new sign-in works", async () => {
    const [first, second] = [await apiProcess(), await apiProcess()];
    const laptop = await signIn(first, OPS_KEY);
    const desktop = await signIn(second, OPS_KEY);
    const leads = await signIn(first, LEAD_KEY);

    expect((await request(first).delete('/codec/sessions/ops').set('authorization', `Bearer ${USER_KEY}`)).status).toBe(
      403,
    );
    expect((await request(first).delete('/codec/sessions/ops').set('cookie', leads)).status).toBe(401);
    expect(
      (await request(first).delete('/codec/sessions/no%20such').set('authorization', `Bearer ${LEAD_KEY}`)).status,
    ).toBe(400);
    const revoked = await request(first).delete('/codec/sessions/ops').set('authorization', `Bearer ${LEAD_KEY}`);
    expect(revoked.status).toBe(204);

    expect(await decodes(second, laptop)).toBe(false);
    expect(await decodes(first, desktop)).toBe(false);
    expect(await decodes(first, leads)).toBe(true);
    now += 1000;
    expect(await decodes(second, await signIn(second, OPS_KEY))).toBe(true);
  });

  it('when the API key a session was opened with is withdrawn from the key file, then the session stops working', async () => {
    const before = await apiProcess();
    const session = await signIn(before, OPS_KEY);
    expect(await decodes(before, session)).toBe(true);
    // The fleet restarted with a key file that no longer lists that key (ops has a new one).
    const after = await apiProcess({ apiKeys: `${LEAD_KEY}:ops:operator,${USER_KEY}:alice:user` });
    expect(await decodes(after, session)).toBe(false);
    expect(await decodes(after, await signIn(after, LEAD_KEY))).toBe(true);
  });

  it('when the API trusts its TLS proxy, then the session cookie is Secure; when it does not, the header is ignored', async () => {
    const cookieOf = async (server: Awaited<ReturnType<typeof apiProcess>>) =>
      String(
        (
          await request(server)
            .post('/codec/session')
            .set('x-forwarded-proto', 'https')
            .type('form')
            .send({ key: OPS_KEY })
        ).headers['set-cookie'],
      );
    expect(await cookieOf(await apiProcess({ trustProxy: true }))).toMatch(/;\s*secure/i);
    expect(await cookieOf(await apiProcess({ trustProxy: false }))).not.toMatch(/;\s*secure/i);
  });
});
