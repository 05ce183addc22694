import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateApiKey, hashApiKey } from '../auth/api-keys';
import { generateEncryptionKey } from '../codec/encryption-keys';
import type { Config } from '../config/config';
import type { Logger } from '../logger';

/** A development API key the launcher made, shown in its banner so the first curl works. */
export interface DevelopmentKey {
  userId: string;
  role: 'user' | 'operator';
  key: string;
}

const DEVELOPMENT_USERS = [
  { userId: 'alice', role: 'user' },
  { userId: 'ops', role: 'operator' },
] as const;

/**
 * Secure by default, on one machine: on a first `npm start` with nothing configured, makes the payload
 * encryption key and a key file with development API keys (a user and an operator), all readable by this
 * account only. The keys' plain text is kept next to their hashes so every start can print them. Configured
 * keys (API_KEYS, API_KEYS_FILE, PAYLOAD_ENCRYPTION_KEYS) are never touched.
 */
export async function ensureDevelopmentCredentials(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<DevelopmentKey[]> {
  await mkdir(config.dataDir, { recursive: true });
  if (!env.PAYLOAD_ENCRYPTION_KEYS && !env.PAYLOAD_ENCRYPTION_KEYS_FILE) {
    if (await createOnce(config.encryption.keysFile, `${generateEncryptionKey(`dev-${Date.now()}`)}\n`)) {
      logger.info({ file: config.encryption.keysFile }, 'created a payload encryption key');
    }
  }
  if (!config.auth.methods.includes('api-key') || env.API_KEYS || env.API_KEYS_FILE) return [];

  const plainFile = path.join(config.dataDir, 'dev-api-keys.json');
  const keys = DEVELOPMENT_USERS.map((user) => ({ ...user, key: generateApiKey() }));
  const lines = keys.map(({ userId, role, key }) => `${hashApiKey(key)} ${userId} ${role}`);
  const header = '# Development API keys made by `npm start`; their plain text is in dev-api-keys.json.\n';
  if (await createOnce(config.auth.apiKeysFile, `${header}${lines.join('\n')}\n`)) {
    await writeFile(plainFile, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
    logger.info({ file: config.auth.apiKeysFile }, 'created development API keys');
    return keys;
  }
  try {
    return JSON.parse(await readFile(plainFile, 'utf8')) as DevelopmentKey[];
  } catch {
    // A key file someone made by hand: its keys are theirs to know.
    return [];
  }
}

/** Writes `content` to a new file readable by its owner only; false if the file already exists. */
async function createOnce(file: string, content: string): Promise<boolean> {
  try {
    await writeFile(file, content, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  await chmod(file, 0o600);
  return true;
}
