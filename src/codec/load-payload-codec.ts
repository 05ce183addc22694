import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config/config';
import { AesGcmPayloadCodec } from './aes-gcm-payload-codec';
import { parseEncryptionKeys } from './encryption-keys';

/**
 * The payload codec of every process that talks to Temporal (API and worker alike), with the keys from
 * PAYLOAD_ENCRYPTION_KEYS or, unset, from PAYLOAD_ENCRYPTION_KEYS_FILE. Encryption cannot be switched off:
 * without keys the process stops, naming the variables.
 */
export async function loadPayloadCodec({ encryption }: Config): Promise<AesGcmPayloadCodec> {
  let value = encryption.keys;
  let variable = 'PAYLOAD_ENCRYPTION_KEYS';
  if (value === undefined) {
    variable = 'PAYLOAD_ENCRYPTION_KEYS_FILE';
    try {
      value = (await readFile(encryption.keysFile, 'utf8')).trim();
    } catch (err) {
      throw new ConfigError([
        `PAYLOAD_ENCRYPTION_KEYS or PAYLOAD_ENCRYPTION_KEYS_FILE: no keys (cannot read ${encryption.keysFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}); \`npm start\` creates one on first start`,
      ]);
    }
  }
  try {
    return new AesGcmPayloadCodec(parseEncryptionKeys(value));
  } catch (err) {
    throw new ConfigError([`${variable}: ${(err as Error).message}`]);
  }
}
