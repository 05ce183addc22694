import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KEY_ID_METADATA } from '../codec/aes-gcm-payload-codec';

/** A value sealed for the database, and the id of the key that sealed it (so rotation can be tracked). */
export interface Sealed {
  keyId: string;
  sealed: string;
}

/**
 * Seals what a job record holds that Temporal holds only encrypted (paths, transcripts, errors) with the very
 * codec and keys of Temporal's payloads: the database holds nothing in plain text that history does not, and a
 * key rotation that keeps the old keys in the ring keeps old records readable.
 */
export class RecordSealer {
  constructor(private readonly codec: PayloadCodec) {}

  async seal(value: unknown): Promise<Sealed> {
    const [payload] = await this.codec.encode([defaultPayloadConverter.toPayload(value)]);
    if (!payload) throw new Error('the codec returned no payload');
    const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString() || 'none';
    return { keyId, sealed: Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish()).toString('base64') };
  }

  async open<T>(sealed: string): Promise<T> {
    const payload = temporal.api.common.v1.Payload.decode(Buffer.from(sealed, 'base64'));
    const [opened] = await this.codec.decode([payload]);
    return defaultPayloadConverter.fromPayload<T>(opened ?? payload);
  }
}
