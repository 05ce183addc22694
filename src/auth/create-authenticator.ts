import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config/config';
import { ApiKeyStore, parseApiKeyFile, parseApiKeyList } from './api-keys';
import { BearerAuthenticator } from './bearer-authenticator';
import { JwtVerifier } from './jwt-verifier';

/**
 * Builds the API's authentication from the configuration, reading key files once at start-up. Returns undefined
 * when authentication is off; a key file or JWT key that cannot be used stops the process, naming the variable.
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
  const { issuer, audience, issuerAlias } = jwt;
  // Loading the configuration refused a jwt method without these (src/config/checks.ts).
  if (issuer === undefined || audience === undefined || (issuerAlias === undefined && !jwt.plainUserIds)) {
    throw new Error('JWT settings reached the API unchecked');
  }
  try {
    return await JwtVerifier.create({
      hs256Secret: jwt.hs256Secret,
      jwksFile: jwt.jwksFile,
      issuer,
      audience,
      userIdClaim: jwt.userIdClaim,
      roleClaim: jwt.roleClaim,
      userIdPrefix: jwt.plainUserIds ? '' : `jwt:${issuerAlias}:`,
    });
  } catch (err) {
    throw new ConfigError([`JWT settings: ${(err as Error).message}`]);
  }
}

function asConfigProblem<T>(variable: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigError([`${variable}: ${(err as Error).message}`]);
  }
}
