import path from 'node:path';

/**
 * How chunk paths map to the store: `per-user` (the default) gives every user a space of their own,
 * `<store>/<user space>/<path>`; `shared` resolves every user's paths against the store's root, as single-tenant
 * deployments did before audio belonged to its user.
 */
export const AUDIO_LAYOUTS = ['per-user', 'shared'] as const;
export type AudioLayout = (typeof AUDIO_LAYOUTS)[number];

/** Where a chunk lives: the user's space (none in the shared layout) and the path inside it. */
export interface AudioKey {
  space: string | null;
  path: string;
}

/** Why a client-given path is refused before any store is asked. */
export class InvalidAudioPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAudioPathError';
  }
}

const MAX_PATH_LENGTH = 1024;
// C0 and C1 controls, and Unicode's line/paragraph separators: nothing a file name needs, and log-forging material.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Checks a client-given chunk path without touching any store and returns it normalized, relative to the
 * caller's space. Throws an {@link InvalidAudioPathError} saying why when it is empty, absolute, or would leave it.
 */
export function normalizeChunkPath(chunkPath: string): string {
  const invalid = (message: string) => new InvalidAudioPathError(message);
  if (chunkPath.length === 0) throw invalid('path is empty');
  if (chunkPath.length > MAX_PATH_LENGTH) throw invalid(`path is longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL_CHARACTERS.test(chunkPath)) throw invalid('path contains control characters');
  if (!chunkPath.isWellFormed()) throw invalid('path is not well-formed Unicode');
  // One path names one file: a decomposed spelling of the same name would otherwise pass as a different path.
  if (chunkPath.normalize('NFC') !== chunkPath) throw invalid('path must be NFC-normalized Unicode');
  if (path.isAbsolute(chunkPath) || /^[a-zA-Z]:/.test(chunkPath)) {
    throw invalid('path must be relative to your audio space');
  }
  const normalized = path.posix.normalize(chunkPath.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith('../')) throw invalid('path leaves your audio space');
  if (normalized === '.' || normalized.endsWith('/')) throw invalid('path names a folder, not a file');
  return normalized;
}

/**
 * A user id as one safe path segment, the same on every store and file system. Ids of lowercase letters, digits
 * and `.`, `_`, `@`, `-` are used as they are. Any other id (capitals, `:`) is written `~` followed by its UTF-8 bytes
 * in lowercase base32: `~` never starts a plain id, so no two ids share a space, not even on a case-insensitive
 * file system, and the longest id (128 characters) stays within a file name's 255 bytes.
 */
export function userSpace(userId: string): string {
  if (/^[a-z0-9][a-z0-9._@-]*$/.test(userId) && userId.length <= 128) return userId;
  return `~${base32(Buffer.from(userId, 'utf8'))}`;
}

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lowercase, without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The key as one slash-separated name below the store's root. */
export function storeName(key: AudioKey): string {
  return key.space === null ? key.path : `${key.space}/${key.path}`;
}

/**
 * Why `name` cannot name an upload (one plain file name, no folders), or undefined when it can. Uploads are stored
 * as `uploads/<id>-<name>`, so the name only has to be a safe single segment.
 */
export function uploadNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 200) return 'is longer than 200 characters';
  if (name.includes('/') || name.includes('\\')) return 'must be a file name without folders';
  if (name.startsWith('.')) return 'must not start with a dot';
  try {
    normalizeChunkPath(name);
  } catch (err) {
    if (err instanceof InvalidAudioPathError) return err.message.replace(/^path /, '');
    throw err;
  }
  return undefined;
}
