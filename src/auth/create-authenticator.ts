import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config/config';
import { JWT_ISSUER_ALIAS_PATTERN } from '../config/settings';
import { ApiKeyStore, parseApiKeyFile, parseApiKeyList } from './api-keys';
import { BearerAuthenticator } from './bearer-authenticator';
import { JwtVerifier } from './jwt-verifier';

/**
 * Builds the API's authentication from the configuration, reading key files once at start-up. Returns undefined
 * when authentication is off; any missing or bad setting stops the process with a message naming the variable.
 */
export async function createAuthenticator({ auth }: Config): Promise<BearerAuthenticator | undefined> {
  if (auth.methods.includes('none')) return undefined;
  const apiKeys = auth.methods.includes('api-key') ? await loadApiKeys(auth) : undefined;
  const jwt = auth.methods.includes('jwt') ? await createJwtVerifier(auth.jwt) : undefined;
  return new BearerAuthenticator({ apiKeys, jwt });
}

async function loadApiKeys(auth: Config['auth']): Promise<ApiKeyStore> {
  if (auth.apiKeys !== undefined) {
    return new ApiKeyStore(asConfigProblem('API_KEYS', () => parseApiKeyList(auth.apiKeys as string)));
  }
  let text: string;
  try {
    text = await readFile(auth.apiKeysFile, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `API_KEYS_FILE: cannot read ${auth.apiKeysFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}); create keys with \`npm run api-key\`, or set API_KEYS for development`,
    ]);
  }
  return new ApiKeyStore(asConfigProblem('API_KEYS_FILE', () => parseApiKeyFile(text)));
}

async function createJwtVerifier(jwt: Config['auth']['jwt']): Promise<JwtVerifier> {
  const problems: string[] = [];
  if (jwt.hs256Secret === undefined && jwt.jwksFile === undefined) {
    problems.push('JWT_HS256_SECRET or JWT_JWKS_FILE: one is required when AUTH_METHODS includes jwt');
  }
  if (jwt.issuer === undefined) problems.push('JWT_ISSUER: required when AUTH_METHODS includes jwt');
  if (jwt.audience === undefined) problems.push('JWT_AUDIENCE: required when AUTH_METHODS includes jwt');
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    return await JwtVerifier.create({
      hs256Secret: jwt.hs256Secret,
      jwksFile: jwt.jwksFile,
      issuer: jwt.issuer as string,
      audience: jwt.audience as string,
      userIdClaim: jwt.userIdClaim,
      roleClaim: jwt.roleClaim,
      userIdPrefix: jwt.plainUserIds ? '' : `jwt:${issuerAlias(jwt)}:`,
    });
  } catch (err) {
    throw new ConfigError([`JWT settings: ${(err as Error).message}`]);
  }
}

/** The issuer's short name in user ids: `JWT_ISSUER_ALIAS`, or the issuer's host name. */
function issuerAlias(jwt: Config['auth']['jwt']): string {
  if (jwt.issuerAlias !== undefined) return jwt.issuerAlias;
  const issuer = jwt.issuer as string;
  const alias = (URL.canParse(issuer) ? new URL(issuer).hostname : issuer).toLowerCase();
  if (!JWT_ISSUER_ALIAS_PATTERN.test(alias)) {
    throw new ConfigError([`JWT_ISSUER_ALIAS: required, since JWT_ISSUER has no host name to use in user ids`]);
  }
  return alias;
}

function asConfigProblem<T>(variable: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigError([`${variable}: ${(err as Error).message}`]);
  }
}
