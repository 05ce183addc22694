import { createHash, randomBytes } from 'node:crypto';
import { ROLES, USER_ID_PATTERN, type Principal, type Role } from './principal';

/** One API key as stored: its hash and who it acts for. */
export interface ApiKeyEntry {
  hash: string;
  userId: string;
  role: Role;
}

const KEY_PATTERN = /^[A-Za-z0-9_-]{16,512}$/;
const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** A new API key: 256 random bits, prefixed so leaked keys are easy to recognise in scanners and logs. */
export function generateApiKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored form of a key. A fast hash is right here, unlike for passwords: the keys are 256-bit random strings,
 * so there is nothing to guess, and a slow hash would only make every request pay for it (GitHub and Stripe store
 * their tokens the same way).
 */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

function parseRole(value: string | undefined, where: string): Role {
  const role = value ?? 'user';
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`${where}: role must be user or operator`);
  return role as Role;
}

function checkUserId(userId: string | undefined, where: string): string {
  if (!userId || !USER_ID_PATTERN.test(userId)) {
    throw new Error(`${where}: user id must be 1-128 letters, digits and . _ @ : - (starting with a letter or digit)`);
  }
  if (userId.startsWith('jwt:')) {
    throw new Error(`${where}: user ids starting with jwt: are those proven by a token, never by an API key`);
  }
  return userId;
}

/** The development form, `key:userId[:role],…`. Errors name the entry by position, never its key. */
export function parseApiKeyList(value: string): ApiKeyEntry[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const where = `entry ${index + 1}`;
      const [key, userId, role, ...rest] = entry.split(':');
      if (rest.length > 0) throw new Error(`${where}: expected key:userId:role`);
      if (!key || !KEY_PATTERN.test(key)) throw new Error(`${where}: key must be 16 or more of A-Z a-z 0-9 _ -`);
      return { hash: hashApiKey(key), userId: checkUserId(userId, where), role: parseRole(role, where) };
    });
}

/** The production form: one `sha256:<hex> <userId> <role>` per line; `#` comments and blank lines allowed. */
export function parseApiKeyFile(text: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${index + 1}`;
    const [hash, userId, role, ...rest] = line.split(/\s+/);
    if (rest.length > 0 || !hash) throw new Error(`${where}: expected "sha256:<hex> <userId> <role>"`);
    if (!HASH_PATTERN.test(hash)) throw new Error(`${where}: the first field must be sha256: and 64 hex digits`);
    entries.push({ hash, userId: checkUserId(userId, where), role: parseRole(role, where) });
  });
  return entries;
}

/** The known API keys, by hash: the plain keys are never kept in memory, even when configured in plain text. */
export class ApiKeyStore {
  private readonly byHash: ReadonlyMap<string, ApiKeyEntry>;

  constructor(entries: ApiKeyEntry[]) {
    const byHash = new Map<string, ApiKeyEntry>();
    entries.forEach((entry, index) => {
      const existing = byHash.get(entry.hash);
      if (existing && (existing.userId !== entry.userId || existing.role !== entry.role)) {
        throw new Error(`entry ${index + 1}: the same key is listed for two different users or roles`);
      }
      byHash.set(entry.hash, entry);
    });
    this.byHash = byHash;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Who a presented key acts for, or undefined for an unknown key. */
  lookup(presentedKey: string): Principal | undefined {
    const hash = hashApiKey(presentedKey);
    const entry = this.byHash.get(hash);
    return entry && { userId: entry.userId, role: entry.role, method: 'api-key', credential: { apiKeyHash: hash } };
  }

  /** Whether the key with this stored hash is still listed, for the same user in the same role. */
  stillGrants(apiKeyHash: string, userId: string, role: Role): boolean {
    const entry = this.byHash.get(apiKeyHash);
    return entry !== undefined && entry.userId === userId && entry.role === role;
  }
}
