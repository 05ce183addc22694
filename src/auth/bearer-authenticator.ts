import type { ApiKeyStore } from './api-keys';
import { AuthenticationError } from './auth-errors';
import type { JwtVerifier } from './jwt-verifier';
import type { Principal } from './principal';

const MAX_HEADER_LENGTH = 8192;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Turns an `Authorization: Bearer …` header into a principal, by API key or JWT, whichever is enabled. */
export class BearerAuthenticator {
  constructor(private readonly options: { apiKeys?: ApiKeyStore; jwt?: JwtVerifier }) {}

  authenticate(authorizationHeader: string | undefined): Principal {
    if (authorizationHeader === undefined || authorizationHeader.trim() === '') {
      throw new AuthenticationError('missing', 'missing bearer credentials');
    }
    if (authorizationHeader.length > MAX_HEADER_LENGTH) {
      throw new AuthenticationError('invalid_token', 'credentials too long');
    }
    const match = /^Bearer +([^\s]+) *$/i.exec(authorizationHeader);
    if (!match?.[1]) throw new AuthenticationError('invalid_token', 'expected "Authorization: Bearer <credential>"');
    const credential = match[1];
    if (JWT_SHAPE.test(credential) && this.options.jwt) return this.options.jwt.verify(credential);
    const principal = this.options.apiKeys?.lookup(credential);
    if (!principal) throw new AuthenticationError('invalid_token', 'invalid credentials');
    return principal;
  }

  /**
   * Whether the credential that once proved `principal` would still prove it: its API key is still listed for the
   * same user and role, or its JWT has not expired (and that kind of credential is still accepted).
   */
  stillValid(principal: Principal, nowMs = Date.now()): boolean {
    const { apiKeyHash, expiresAtMs } = principal.credential ?? {};
    if (principal.method === 'api-key' && apiKeyHash !== undefined) {
      return this.options.apiKeys?.stillGrants(apiKeyHash, principal.userId, principal.role) ?? false;
    }
    if (principal.method === 'jwt' && expiresAtMs !== undefined) {
      return this.options.jwt !== undefined && expiresAtMs > nowMs;
    }
    return false;
  }
}
