import type { SerializationContext } from '@temporalio/common';
import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config/config';
import type { Logger } from '../logger';
import { AesGcmPayloadCodec } from './aes-gcm-payload-codec';
import { parseEncryptionKeys, type EncryptionKeyRing } from './encryption-keys';

/** At most one warning a minute about unencrypted payloads let through, however many jobs are read. */
const REPORT_EVERY_MS = 60_000;

/**
 * The payload codec of every process that talks to Temporal (API and worker alike), with the keys from
 * PAYLOAD_ENCRYPTION_KEYS or, unset, from PAYLOAD_ENCRYPTION_KEYS_FILE. Encryption cannot be switched off:
 * without keys the process stops, naming the variables. Unencrypted payloads are refused, or let through and
 * logged until PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL.
 */
export async function loadPayloadCodec({ encryption }: Config, logger: Logger): Promise<AesGcmPayloadCodec> {
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
  const ring = keyRing(value, variable);
  const until = encryption.acceptUnencryptedUntil;
  if (until === undefined) return new AesGcmPayloadCodec(ring);
  if (until.getTime() > Date.now()) {
    logger.warn({ acceptUnencryptedUntil: until.toISOString() }, 'unencrypted payloads are accepted until then');
  }
  return new AesGcmPayloadCodec(ring, { acceptUntil: until, onAccepted: reportAccepted(logger, until) });
}

function keyRing(value: string, variable: string): EncryptionKeyRing {
  try {
    return parseEncryptionKeys(value);
  } catch (err) {
    throw new ConfigError([`${variable}: ${(err as Error).message}`]);
  }
}

/** Warns of unencrypted payloads let through in the window, naming a job they belonged to and how many since. */
function reportAccepted(logger: Logger, until: Date) {
  let since = 0;
  let lastReportAt = -Infinity;
  return (count: number, context: SerializationContext | undefined) => {
    since += count;
    const now = Date.now();
    if (now - lastReportAt < REPORT_EVERY_MS) return;
    logger.warn(
      { unencryptedPayloads: since, workflowId: context?.workflowId, acceptUnencryptedUntil: until.toISOString() },
      'accepted unencrypted payloads from Temporal; they will be refused after PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL',
    );
    since = 0;
    lastReportAt = now;
  };
}
