import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/** The keys payloads are encrypted with: the active one encrypts, every one decrypts. */
export interface EncryptionKeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, KeyObject>;
}

export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_BYTES = 32;

/**
 * Parses `keyId:base64key,keyId:base64key,…`. The first key encrypts; all decrypt, so keys rotate by putting a
 * new one first and keeping the old ones while history written with them is retained. Errors name the entry,
 * never its key material.
 */
export function parseEncryptionKeys(value: string): EncryptionKeyRing {
  const keys = new Map<string, KeyObject>();
  const entries = value
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '' && !entry.startsWith('#'));
  if (entries.length === 0) throw new Error('no keys; expected keyId:base64key[,keyId:base64key…]');
  entries.forEach((entry, index) => {
    const where = `key ${index + 1}`;
    const separator = entry.indexOf(':');
    const keyId = separator < 0 ? '' : entry.slice(0, separator);
    const encoded = separator < 0 ? '' : entry.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(keyId)) throw new Error(`${where}: expected keyId:base64key, id of A-Z a-z 0-9 . _ -`);
    if (keys.has(keyId)) throw new Error(`${where}: key id ${keyId} is listed twice`);
    const material = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (material.length !== KEY_BYTES) throw new Error(`${where}: must be ${KEY_BYTES} bytes in base64`);
    keys.set(keyId, createSecretKey(material));
  });
  return { activeKeyId: [...keys.keys()][0] as string, keys };
}

/** A new random key as one `keyId:base64key` entry. */
export function generateEncryptionKey(keyId: string): string {
  return `${keyId}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
