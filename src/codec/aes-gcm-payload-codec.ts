import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { KEY_ID_PATTERN, type EncryptionKeyRing } from './encryption-keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A payload that cannot be decrypted: unknown key id, or data that fails authentication. */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

/**
 * A payload this service did not encrypt, met where it would act on it: history that someone wrote straight to
 * Temporal (a workflow started, signalled or answered through its gRPC port) rather than through this service.
 */
export class UnencryptedPayloadError extends PayloadDecryptionError {
  constructor(count: number) {
    super(
      `refused ${count} unencrypted payload${count === 1 ? '' : 's'}: this service writes every payload encrypted (PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL is unset or past)`,
    );
    this.name = 'UnencryptedPayloadError';
  }
}

/** What decoding does with a payload this codec did not encrypt. */
export interface UnencryptedPayloadOptions {
  /**
   * `never` (the default) refuses it with {@link UnencryptedPayloadError}; a date passes it through until then, and
   * refuses it afterwards (the window for history written before encryption); `always` passes it through, for
   * showing payloads that are plain in Temporal already (the codec endpoint).
   */
  acceptUntil: 'never' | 'always' | Date;
  /** Told of each list of payloads that held unencrypted ones and was let through under a date. */
  onAccepted?: (count: number, context: SerializationContext | undefined) => void;
  now?: () => number;
}

/**
 * Encrypts each whole payload (metadata included, so even its encoding is hidden) with AES-256-GCM under the
 * ring's active key, a fresh random IV each time, and the key id bound in as additional authenticated data so
 * it cannot be swapped. A payload it did not encrypt is refused on decoding, unless `unencrypted` lets it through.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly ring: EncryptionKeyRing,
    private readonly unencrypted: UnencryptedPayloadOptions = { acceptUntil: 'never' },
  ) {}

  /**
   * The same keys, passing unencrypted payloads through: for the codec endpoint, which only shows operators what
   * Temporal holds, where refusing a plain payload would protect nothing and hide what is there.
   */
  passingUnencrypted(): AesGcmPayloadCodec {
    return new AesGcmPayloadCodec(this.ring, { acceptUntil: 'always' });
  }

  /**
   * A 256-bit key for another purpose (e.g. signing sessions), derived from the active key with HKDF so that
   * every process holding the same keys derives the same one, and the payload key itself is never reused.
   */
  deriveKey(purpose: string): Buffer {
    const key = this.ring.keys.get(this.ring.activeKeyId);
    if (!key) throw new Error(`active key ${this.ring.activeKeyId} is not in the key ring`);
    return Buffer.from(hkdfSync('sha256', key.export(), 'transcription-service', purpose, 32));
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(this.seal(payloads)));
  }

  decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return new Promise((resolve) => {
      this.checkUnencrypted(payloads, context);
      resolve(this.open(payloads));
    });
  }

  private seal(payloads: Payload[]): Payload[] {
    const keyId = this.ring.activeKeyId;
    const key = this.ring.keys.get(keyId);
    if (!key) throw new Error(`active key ${keyId} is not in the key ring`);
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(keyId, 'utf8'));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: Buffer.from(keyId),
        },
        data: sealed,
      };
    });
  }

  private checkUnencrypted(payloads: Payload[], context: SerializationContext | undefined): void {
    const { acceptUntil, onAccepted, now = Date.now } = this.unencrypted;
    if (acceptUntil === 'always') return;
    const count = payloads.filter((payload) => !isEncrypted(payload)).length;
    if (count === 0) return;
    if (acceptUntil === 'never' || now() >= acceptUntil.getTime()) throw new UnencryptedPayloadError(count);
    onAccepted?.(count, context);
  }

  private open(payloads: Payload[]): Payload[] {
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const key = this.ring.keys.get(keyId);
      // The id comes from the payload, which a caller of the codec endpoint writes: echo it only if it is one.
      const named = KEY_ID_PATTERN.test(keyId) ? `"${keyId}"` : '(not a key id)';
      if (!key) throw new PayloadDecryptionError(`payload encrypted with unknown key ${named}`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES)
        throw new PayloadDecryptionError(`payload under key ${named} is truncated`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(keyId, 'utf8'));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return temporal.api.common.v1.Payload.decode(plain);
      } catch {
        throw new PayloadDecryptionError(`payload under key ${named} failed authentication`);
      }
    });
  }
}

function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING;
}
