import jwt, { type Algorithm, type JwtPayload } from 'jsonwebtoken';
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AuthenticationError } from './auth-errors';
import { USER_ID_PATTERN, type Principal } from './principal';

export interface JwtVerifierOptions {
  /** HS256 shared secret, at least 32 bytes. */
  hs256Secret?: string;
  /** A JWKS file (`{"keys": [...]}`) with RS256 and/or ES256 public keys. */
  jwksFile?: string;
  issuer: string;
  audience: string;
  userIdClaim?: string;
  roleClaim?: string;
  /**
   * Put before the claim to make the user id (`jwt:<issuer alias>:`), so a token's caller is never the user of an
   * API key, or of another issuer, that happens to have the same name; empty for the bare claim.
   */
  userIdPrefix: string;
  clockToleranceSeconds?: number;
}

interface VerificationKey {
  key: KeyObject | string;
  algorithm: Algorithm;
}

const MIN_HS256_SECRET_BYTES = 32;

/**
 * Verifies bearer JWTs from one issuer for one audience. Each key accepts exactly one algorithm, fixed by its type
 * (HS256 for the secret, RS256 for RSA keys, ES256 for P-256 keys), so `alg: none` and algorithm confusion fail.
 */
export class JwtVerifier {
  private constructor(
    private readonly options: JwtVerifierOptions,
    private readonly secret: VerificationKey | undefined,
    private readonly keysById: ReadonlyMap<string, VerificationKey>,
  ) {}

  /** Loads and checks the keys; throws naming the option at fault (never a key's value). */
  static async create(options: JwtVerifierOptions): Promise<JwtVerifier> {
    let secret: VerificationKey | undefined;
    if (options.hs256Secret !== undefined) {
      if (Buffer.byteLength(options.hs256Secret, 'utf8') < MIN_HS256_SECRET_BYTES) {
        throw new Error(`JWT_HS256_SECRET must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
      }
      secret = { key: options.hs256Secret, algorithm: 'HS256' };
    }
    const keysById = options.jwksFile === undefined ? new Map() : await loadJwks(options.jwksFile);
    if (!secret && keysById.size === 0) throw new Error('JWT needs JWT_HS256_SECRET or a JWKS file with keys');
    return new JwtVerifier(options, secret, keysById);
  }

  verify(token: string): Principal {
    let decoded: jwt.Jwt | null;
    try {
      decoded = jwt.decode(token, { complete: true });
    } catch {
      // A header that says JWT over a payload that is not JSON makes decode throw: still the client's mistake.
      throw invalid('malformed token');
    }
    if (!decoded || typeof decoded.payload === 'string') throw invalid('malformed token');
    const key = this.keyFor(decoded.header.alg, decoded.header.kid);
    let payload: JwtPayload;
    try {
      payload = jwt.verify(token, key.key, {
        algorithms: [key.algorithm],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
      }) as JwtPayload;
    } catch (err) {
      throw invalid(describe(err));
    }
    if (typeof payload.exp !== 'number') throw invalid('token has no expiry');
    const claim = payload[this.options.userIdClaim ?? 'sub'] as unknown;
    const userId = typeof claim === 'string' ? `${this.options.userIdPrefix}${claim}` : undefined;
    if (userId === undefined || !USER_ID_PATTERN.test(userId)) throw invalid('token subject is not a valid user id');
    const role = payload[this.options.roleClaim ?? 'role'] as unknown;
    const operator = role === 'operator' || (Array.isArray(role) && role.includes('operator'));
    return {
      userId,
      role: operator ? 'operator' : 'user',
      method: 'jwt',
      credential: { expiresAtMs: payload.exp * 1000 },
    };
  }

  private keyFor(alg: string, kid: string | undefined): VerificationKey {
    if (!['HS256', 'RS256', 'ES256'].includes(alg)) throw invalid('token algorithm not accepted');
    if (alg === 'HS256') {
      if (!this.secret) throw invalid('token algorithm not accepted');
      return this.secret;
    }
    const key =
      kid === undefined
        ? this.keysById.size === 1
          ? [...this.keysById.values()][0]
          : undefined
        : this.keysById.get(kid);
    if (!key) throw invalid('token signed by an unknown key');
    if (key.algorithm !== alg) throw invalid('token algorithm not accepted');
    return key;
  }
}

function invalid(message: string): AuthenticationError {
  return new AuthenticationError('invalid_token', message);
}

function describe(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'token expired';
  if (err instanceof jwt.NotBeforeError) return 'token not yet valid';
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('jwt audience invalid')) return 'token audience mismatch';
  if (message.startsWith('jwt issuer invalid')) return 'token issuer mismatch';
  if (message === 'invalid signature') return 'invalid token signature';
  return 'invalid token';
}

async function loadJwks(file: string): Promise<Map<string, VerificationKey>> {
  let jwks: { keys?: unknown };
  try {
    jwks = JSON.parse(await readFile(file, 'utf8')) as { keys?: unknown };
  } catch (err) {
    throw new Error(
      `JWT_JWKS_FILE ${file}: ${err instanceof SyntaxError ? 'not JSON' : ((err as NodeJS.ErrnoException).code ?? 'unreadable')}`,
    );
  }
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`JWT_JWKS_FILE ${file}: no "keys"`);
  const keys = new Map<string, VerificationKey>();
  jwks.keys.forEach((jwk: JsonWebKey & { kid?: string; alg?: string }, index) => {
    const where = `JWT_JWKS_FILE ${file}: key ${index + 1}`;
    if (jwk.d !== undefined) throw new Error(`${where} is a private key; the file must hold public keys only`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      throw new Error(`${where} is not a valid public JWK`);
    }
    const algorithm = algorithmOf(key);
    if (!algorithm) throw new Error(`${where}: only RSA (RS256) and P-256 (ES256) keys are supported`);
    if (jwk.alg !== undefined && jwk.alg !== algorithm)
      throw new Error(`${where}: alg ${jwk.alg} does not fit the key`);
    keys.set(jwk.kid ?? `#${index}`, { key, algorithm });
  });
  return keys;
}

function algorithmOf(key: KeyObject): Algorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return undefined;
}
