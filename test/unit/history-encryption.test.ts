import { ApplicationFailure, DefaultPayloadConverter } from '@temporalio/common';
import {
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
  loadDataConverter,
} from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { Writable } from 'node:stream';
import { AesGcmPayloadCodec, UnencryptedPayloadError } from '../../src/codec/aes-gcm-payload-codec';
import { serviceDataConverter } from '../../src/codec/data-converter';
import { generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { loadPayloadCodec } from '../../src/codec/load-payload-codec';
import { ConfigError, loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/logger';

const converter = new DefaultPayloadConverter();
const KEYS = generateEncryptionKey('k1');
const ring = parseEncryptionKeys(KEYS);
const SECRET_PATH = 'board/q3-layoffs.wav';
const SECRET_ASR_TEXT = 'speaker 7f3a voiceprint does not match';

/** A log that keeps its lines, to see what was warned. */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'info', sink), lines };
}

describe('unencrypted payloads', () => {
  const plain = converter.toPayload({ userId: 'alice', audioChunkPaths: [SECRET_PATH] });

  it('when a payload was never encrypted, then decoding refuses it, even beside encrypted ones', async () => {
    const codec = new AesGcmPayloadCodec(ring);
    const [sealed] = await codec.encode([converter.toPayload('fine')]);
    await expect(codec.decode([plain])).rejects.toThrow(UnencryptedPayloadError);
    await expect(codec.decode([sealed!, plain])).rejects.toThrow('refused 1 unencrypted payload');
    expect(converter.fromPayload((await codec.decode([sealed!]))[0]!)).toBe('fine');
  });

  it('when the migration window is open, then plain payloads pass and are reported; once it closes, they are refused', async () => {
    let now = Date.parse('2027-03-30T12:00:00Z');
    const reported: Array<[number, string | undefined]> = [];
    const codec = new AesGcmPayloadCodec(ring, {
      acceptUntil: new Date('2027-03-31T00:00:00Z'),
      onAccepted: (count, context) => reported.push([count, context?.workflowId]),
      now: () => now,
    });
    const context = { type: 'workflow', namespace: 'default', workflowId: 'job-1' } as const;
    expect(await codec.decode([plain, plain], context)).toEqual([plain, plain]);
    expect(reported).toEqual([[2, 'job-1']]);
    now = Date.parse('2027-03-31T00:00:00Z');
    await expect(codec.decode([plain], context)).rejects.toThrow(UnencryptedPayloadError);
  });

  it('when the codec endpoint shows payloads, then plain ones pass through unchanged', async () => {
    const viewer = new AesGcmPayloadCodec(ring).passingUnencrypted();
    expect(await viewer.decode([plain])).toEqual([plain]);
  });

  it('when PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL is set, then the service accepts plain payloads until then and says so', async () => {
    const { logger, lines } = recordingLogger();
    const future = new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    const open = await loadPayloadCodec(
      loadConfig({ PAYLOAD_ENCRYPTION_KEYS: KEYS, PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL: future }),
      logger,
    );
    expect(await open.decode([plain])).toEqual([plain]);
    expect(lines.map((line) => line.msg)).toEqual([
      'unencrypted payloads are accepted until then',
      'accepted unencrypted payloads from Temporal; they will be refused after PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL',
    ]);

    const closed = await loadPayloadCodec(
      loadConfig({ PAYLOAD_ENCRYPTION_KEYS: KEYS, PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL: '2020-01-01' }),
      logger,
    );
    await expect(closed.decode([plain])).rejects.toThrow(UnencryptedPayloadError);
    const unset = await loadPayloadCodec(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: KEYS }), logger);
    await expect(unset.decode([plain])).rejects.toThrow(UnencryptedPayloadError);
  });

  it.each(['31/03/2027', '2027-03-31T00:00', 'soon'])(
    'when PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL is %s, then the configuration is refused naming it',
    (value) => {
      expect(() => loadConfig({ PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL: value })).toThrow(ConfigError);
      expect(() => loadConfig({ PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL: value })).toThrow(/PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL/);
    },
  );
});

describe('failures', () => {
  const codec = new AesGcmPayloadCodec(ring);
  const service = loadDataConverter(serviceDataConverter(codec));
  const chunkFailure = () =>
    ApplicationFailure.create({
      message: `${SECRET_PATH}: ASR answered 422: ${SECRET_ASR_TEXT}`,
      type: 'AsrRejectedError',
      nonRetryable: true,
    });

  it('when the service writes a failure, then neither its message nor its stack trace is readable in what Temporal stores', async () => {
    const stored = await encodeErrorToFailure(service, chunkFailure());
    const bytes = Buffer.from(temporal.api.failure.v1.Failure.encode(stored).finish());
    expect(bytes.includes(SECRET_PATH)).toBe(false);
    expect(bytes.includes(SECRET_ASR_TEXT)).toBe(false);
    expect(bytes.includes('history-encryption.test')).toBe(false);
    expect(stored.applicationFailureInfo?.type).toBe('AsrRejectedError');
  });

  it('when the service reads a failure back, then message, type and cause are whole again', async () => {
    const cause = chunkFailure();
    const stored = await encodeErrorToFailure(
      service,
      ApplicationFailure.create({ message: 'job failed', type: 'JobFailed', cause }),
    );
    const read = (await decodeOptionalFailureToOptionalError(service, stored)) as ApplicationFailure;
    expect(read).toBeInstanceOf(ApplicationFailure);
    expect(read.message).toBe('job failed');
    expect(read.cause?.message).toBe(cause.message);
    expect((read.cause as ApplicationFailure).type).toBe('AsrRejectedError');
  });

  it("when the Web UI decodes a failure with the codec endpoint's codec, then it gets the message and stack trace", async () => {
    const stored = await encodeErrorToFailure(service, chunkFailure());
    const [attributes] = await codec.passingUnencrypted().decode([stored.encodedAttributes!]);
    const shown = converter.fromPayload<{ message: string; stack_trace: string }>(attributes!);
    expect(shown.message).toBe(chunkFailure().message);
    expect(shown.stack_trace).toContain('history-encryption.test');
  });
});
