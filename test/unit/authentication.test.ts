import jwt from 'jsonwebtoken';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiKeyStore, generateApiKey, hashApiKey, parseApiKeyFile, parseApiKeyList } from '../../src/auth/api-keys';
import { AuthenticationError, wwwAuthenticate } from '../../src/auth/auth-errors';
import { BearerAuthenticator } from '../../src/auth/bearer-authenticator';
import { JwtVerifier } from '../../src/auth/jwt-verifier';
import { tempDir } from '../support/temp-dir';

const ISSUER = 'https://login.example.test';
const AUDIENCE = 'transcription-api';
const SECRET = randomBytes(32).toString('hex');

function failure(fn: () => unknown): AuthenticationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AuthenticationError);
    return err as AuthenticationError;
  }
  throw new Error('expected an AuthenticationError');
}

describe('API keys', () => {
  it('when a key is generated, then it is long, prefixed and only its hash is stored', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^tsk_[A-Za-z0-9_-]{43}$/);
    const store = new ApiKeyStore(parseApiKeyFile(`${hashApiKey(key)} alice user\n`));
    expect(store.lookup(key)).toMatchObject({ userId: 'alice', role: 'user', method: 'api-key' });
    expect(store.lookup(`${key}x`)).toBeUndefined();
    expect(JSON.stringify(store)).not.toContain(key);
  });

  it('when the development list is parsed, then roles default to user and operators are kept', () => {
    const store = new ApiKeyStore(parseApiKeyList('alice-key-1234567890:alice, ops-key-123456789012:ops:operator'));
    expect(store.lookup('alice-key-1234567890')?.role).toBe('user');
    expect(store.lookup('ops-key-123456789012')?.role).toBe('operator');
  });

  it.each([
    ['short:alice', /entry 1: key/],
    ['good-key-1234567890:alice,bad-key-1234567890:al ice', /entry 2: user id/],
    ['good-key-1234567890:alice:admin', /entry 1: role/],
  ])('when the list %j is malformed, then the error names the entry and never the key', (value, reason) => {
    expect(() => parseApiKeyList(value)).toThrow(reason);
    try {
      parseApiKeyList(value);
    } catch (err) {
      expect((err as Error).message).not.toContain('key-1234567890');
    }
  });

  it('when the key file has comments, blank lines and a bad line, then the bad line is named', () => {
    const good = `${hashApiKey('k'.repeat(20))} bob operator`;
    expect(parseApiKeyFile(`# keys\n\n${good}\n`)).toHaveLength(1);
    expect(() => parseApiKeyFile(`${good}\nsha256:abc bob user\n`)).toThrow(/line 2/);
  });
});

describe('JwtVerifier', () => {
  const sign = (claims: object, options: jwt.SignOptions = {}, key: jwt.Secret = SECRET) =>
    jwt.sign(claims, key, { algorithm: 'HS256', issuer: ISSUER, audience: AUDIENCE, expiresIn: '5m', ...options });
  let hs: JwtVerifier;

  beforeAll(async () => {
    hs = await JwtVerifier.create({
      hs256Secret: SECRET,
      issuer: ISSUER,
      audience: AUDIENCE,
      userIdPrefix: 'jwt:idp:',
    });
  });

  it('when an HS256 token is valid, then its subject and role come back', () => {
    expect(hs.verify(sign({ sub: 'alice' }))).toMatchObject({ userId: 'jwt:idp:alice', role: 'user', method: 'jwt' });
    expect(hs.verify(sign({ sub: 'ops', role: 'operator' })).role).toBe('operator');
    expect(hs.verify(sign({ sub: 'ops', role: ['reader', 'operator'] })).role).toBe('operator');
    expect(hs.verify(sign({ sub: 'eve', role: 'admin' })).role).toBe('user');
  });

  it.each([
    [
      'expired',
      () =>
        jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 120 }, SECRET, {
          issuer: ISSUER,
          audience: AUDIENCE,
        }),
      /expired/,
    ],
    ['not yet valid', () => sign({ sub: 'alice' }, { notBefore: '1h' }), /not yet valid/],
    ['from another issuer', () => sign({ sub: 'alice' }, { issuer: 'https://evil.test' }), /issuer/],
    ['for another audience', () => sign({ sub: 'alice' }, { audience: 'other-api' }), /audience/],
    ['signed with another secret', () => sign({ sub: 'alice' }, {}, randomBytes(32).toString('hex')), /signature/],
    ['without an expiry', () => jwt.sign({ sub: 'alice' }, SECRET, { issuer: ISSUER, audience: AUDIENCE }), /expiry/],
    ['with a subject outside the user id alphabet', () => sign({ sub: "a' OR 1=1" }), /user id/],
    [
      'with alg none',
      () => jwt.sign({ sub: 'alice' }, '', { algorithm: 'none', issuer: ISSUER, audience: AUDIENCE, expiresIn: '5m' }),
      /algorithm not accepted/,
    ],
  ])('when a token is %s, then it is refused with a reason and no token in the message', (_, token, reason) => {
    const raw = token();
    const error = failure(() => hs.verify(raw));
    expect(error.challenge).toBe('invalid_token');
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain(raw.split('.')[1] ?? raw);
  });

  it('when a token claims to be a JWT but its payload is not JSON, then it is refused as malformed, not a crash', () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from('{"sub": "alice", secret-looking-part').toString('base64url');
    const error = failure(() => hs.verify(`${header}.${payload}.c2ln`));
    expect(error).toMatchObject({ challenge: 'invalid_token', message: 'malformed token' });
  });

  it('when the payload of a valid token is altered, then the signature fails', () => {
    const [header, , signature] = sign({ sub: 'alice' }).split('.');
    const forged = Buffer.from(
      JSON.stringify({ sub: 'ops', role: 'operator', iss: ISSUER, aud: AUDIENCE, exp: 2e9 }),
    ).toString('base64url');
    expect(failure(() => hs.verify(`${header}.${forged}.${signature}`)).message).toMatch(/signature/);
  });

  it('when keys come from a JWKS file, then RS256 and ES256 tokens verify by kid and algorithm confusion fails', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const file = path.join(await tempDir('jwks'), 'jwks.json');
    await writeFile(
      file,
      JSON.stringify({
        keys: [
          { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1' },
          { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1' },
        ],
      }),
    );
    const verifier = await JwtVerifier.create({
      jwksFile: file,
      issuer: ISSUER,
      audience: AUDIENCE,
      userIdPrefix: 'jwt:idp:',
    });
    const claims = { sub: 'alice' };
    const base = { issuer: ISSUER, audience: AUDIENCE, expiresIn: '5m' } as const;
    expect(
      verifier.verify(jwt.sign(claims, rsa.privateKey, { ...base, algorithm: 'RS256', keyid: 'rsa-1' })).userId,
    ).toBe('jwt:idp:alice');
    expect(
      verifier.verify(jwt.sign(claims, ec.privateKey, { ...base, algorithm: 'ES256', keyid: 'ec-1' })).userId,
    ).toBe('jwt:idp:alice');
    expect(
      failure(() => verifier.verify(jwt.sign(claims, rsa.privateKey, { ...base, algorithm: 'RS256', keyid: 'nope' })))
        .message,
    ).toMatch(/unknown key/);
    // The classic confusion: an HS256 token "signed" with the public key's PEM as the shared secret.
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const confused = jwt.sign(claims, pem, { ...base, algorithm: 'HS256', keyid: 'rsa-1' });
    expect(failure(() => verifier.verify(confused)).message).toMatch(/algorithm/);
    const rsWithEcKid = jwt.sign(claims, rsa.privateKey, { ...base, algorithm: 'RS256', keyid: 'ec-1' });
    expect(failure(() => verifier.verify(rsWithEcKid)).message).toMatch(/algorithm/);
  });

  it('when the HS256 secret is short or the JWKS holds a private key, then creation fails naming the option only', async () => {
    await expect(
      JwtVerifier.create({ hs256Secret: 'short-secret', issuer: ISSUER, audience: AUDIENCE, userIdPrefix: '' }),
    ).rejects.toThrow(/JWT_HS256_SECRET must be at least 32 bytes/);
    const file = path.join(await tempDir('jwks'), 'private.json');
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await writeFile(file, JSON.stringify({ keys: [ec.privateKey.export({ format: 'jwk' })] }));
    await expect(
      JwtVerifier.create({ jwksFile: file, issuer: ISSUER, audience: AUDIENCE, userIdPrefix: 'jwt:idp:' }),
    ).rejects.toThrow(/private key/);
  });
});

describe('BearerAuthenticator', () => {
  const key = 'alice-key-1234567890';
  let authenticator: BearerAuthenticator;

  beforeAll(async () => {
    authenticator = new BearerAuthenticator({
      apiKeys: new ApiKeyStore(parseApiKeyList(`${key}:alice`)),
      jwt: await JwtVerifier.create({
        hs256Secret: SECRET,
        issuer: ISSUER,
        audience: AUDIENCE,
        userIdPrefix: 'jwt:idp:',
      }),
    });
  });

  it('when the header carries an API key or a JWT, then each is checked by its kind', () => {
    expect(authenticator.authenticate(`Bearer ${key}`).method).toBe('api-key');
    expect(authenticator.authenticate(`bearer ${key}`).userId).toBe('alice');
    const token = jwt.sign({ sub: 'bob' }, SECRET, { issuer: ISSUER, audience: AUDIENCE, expiresIn: '5m' });
    expect(authenticator.authenticate(`Bearer ${token}`)).toMatchObject({ userId: 'jwt:idp:bob', method: 'jwt' });
  });

  it("when a token's subject has the name of an API key's user, then they are two users, and no key may take a token's name", () => {
    const token = jwt.sign({ sub: 'alice' }, SECRET, { issuer: ISSUER, audience: AUDIENCE, expiresIn: '5m' });
    expect(authenticator.authenticate(`Bearer ${token}`).userId).toBe('jwt:idp:alice');
    expect(authenticator.authenticate(`Bearer ${key}`).userId).toBe('alice');
    expect(() => parseApiKeyFile(`${hashApiKey('k'.repeat(20))} jwt:idp:alice user\n`)).toThrow(/line 1: .*jwt:/);
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['Basic YWxpY2U6cHc=', 'invalid_token'],
    [`Bearer ${key} extra`, 'invalid_token'],
    ['Bearer', 'invalid_token'],
    [`Bearer ${'a'.repeat(9000)}`, 'invalid_token'],
    ['Bearer unknown-key-000000000', 'invalid_token'],
  ])('when the header is %j, then it is a 401 of kind %s', (header, challenge) => {
    const error = failure(() => authenticator.authenticate(header));
    expect(error.challenge).toBe(challenge);
    expect(wwwAuthenticate(error)).toMatch(
      challenge === 'missing' ? /^Bearer realm="transcription"$/ : /error="invalid_token"/,
    );
  });
});
