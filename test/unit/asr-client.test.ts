import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { AsrClient, parseRetryAfter } from '../../src/asr/asr-client';
import { AsrRejectedError, AsrUnavailableError } from '../../src/asr/asr-errors';
import { startAsrSimulator, type AsrSimulator } from '../../src/asr/asr-simulator';
import type { AudioStore } from '../../src/storage/audio-store';
import { localAudioStore } from '../support/audio-stores';
import { tempDir, writeChunk } from '../support/temp-dir';

describe('AsrClient against the ASR simulator over HTTP', () => {
  let root: string;
  let simulator: AsrSimulator;
  let store: AudioStore;
  let client: AsrClient;

  beforeAll(async () => {
    root = path.join(await tempDir('asr-client'), 'audio');
    const space = path.join(root, 'tester');
    await mkdir(space, { recursive: true });
    await writeChunk(space, 'meeting/part-1.wav', { transcript: 'good morning everyone\n' });
    await writeChunk(space, 'meeting/untagged.wav');
    await writeChunk(space, 'meeting/silence.wav', { transcript: '' });
    await writeChunk(space, 'broken/always.wav');
    await writeChunk(space, 'scripted.wav');
    simulator = await startAsrSimulator({
      port: 0,
      latency: { minMs: 5, maxMs: 20 },
      failureRate: 0,
      failPattern: /^broken\//,
    });
    store = localAudioStore(root);
    client = new AsrClient({ url: simulator.url, responseFormat: 'verbose_json', model: 'whisper-1', timeoutMs: 2000 });
  });

  afterAll(() => simulator.close());

  const transcribe = async (name: string, asr: AsrClient = client) =>
    (await asr.transcribe(await store.open('tester', name))).text;

  it('when the file is tagged with a transcript, then that text comes back', async () => {
    await expect(transcribe('meeting/part-1.wav')).resolves.toBe('good morning everyone');
  });

  it('when the file has no transcript tag, then a deterministic text naming the file comes back', async () => {
    await expect(transcribe('meeting/untagged.wav')).resolves.toBe('Simulated transcript of meeting/untagged.wav.');
  });

  it('when the audio is silence, then the transcript is empty, not an error', async () => {
    await expect(transcribe('meeting/silence.wav')).resolves.toBe('');
  });

  it('when a file matches the failure pattern, then every call fails as retryable 500s, and each is counted', async () => {
    const before = simulator.requestCount('broken/always.wav');
    for (let i = 0; i < 2; i += 1) {
      await expect(transcribe('broken/always.wav')).rejects.toMatchObject({
        name: 'AsrUnavailableError',
        details: { status: 500 },
      });
    }
    expect(simulator.requestCount('broken/always.wav')).toBe(before + 2);
  });

  it.each([503, 502, 408])('when the ASR answers %i, then the failure is retryable', async (status) => {
    simulator.script('scripted.wav', [{ status, body: { error: { message: 'busy' } } }]);
    const failure = transcribe('scripted.wav');
    await expect(failure).rejects.toThrow(AsrUnavailableError);
    await expect(failure).rejects.toThrow(`ASR answered ${status}: busy`);
  });

  it("when the ASR answers 429 with Retry-After, then the failure is retryable and carries the ASR's delay", async () => {
    simulator.script('scripted.wav', [{ status: 429, headers: { 'retry-after': '7' }, body: {} }]);
    await expect(transcribe('scripted.wav')).rejects.toMatchObject({
      name: 'AsrUnavailableError',
      details: { status: 429, retryAfterMs: 7000 },
    });
  });

  it.each([400, 401, 413, 415])('when the ASR answers %i, then the failure is not retryable', async (status) => {
    simulator.script('scripted.wav', [{ status, body: { error: { message: 'bad request' } } }]);
    await expect(transcribe('scripted.wav')).rejects.toMatchObject({ name: 'AsrRejectedError', status });
  });

  it('when the ASR gives timed segments and a duration (verbose_json), then they come back with the text', async () => {
    simulator.script('scripted.wav', [
      {
        status: 200,
        body: {
          text: ' Hello there. General Kenobi.',
          duration: 4.5,
          segments: [
            { id: 0, start: 0, end: 1.6, text: ' Hello there.' },
            { id: 1, start: 2.1, end: 4.2, text: ' General Kenobi.' },
          ],
        },
      },
    ]);
    await expect(client.transcribe(await store.open('tester', 'scripted.wav'))).resolves.toEqual({
      text: ' Hello there. General Kenobi.',
      durationSeconds: 4.5,
      segments: [
        { startSeconds: 0, endSeconds: 1.6, text: 'Hello there.' },
        { startSeconds: 2.1, endSeconds: 4.2, text: 'General Kenobi.' },
      ],
    });
  });

  it('when the ASR gives text alone, or segments that do not parse, then the text comes back without segments', async () => {
    simulator.script('scripted.wav', [
      { status: 200, body: { text: 'plain' } },
      { status: 200, body: { text: 'odd', segments: [{ start: 'soon' }], duration: -1 } },
    ]);
    const expected = (text: string) => ({ text, segments: null, durationSeconds: null });
    await expect(client.transcribe(await store.open('tester', 'scripted.wav'))).resolves.toEqual(expected('plain'));
    await expect(client.transcribe(await store.open('tester', 'scripted.wav'))).resolves.toEqual(expected('odd'));
  });

  it('when the ASR answers 200 without a transcript, then the failure is retryable', async () => {
    simulator.script('scripted.wav', [{ status: 200, body: '<html>oops</html>' }]);
    await expect(transcribe('scripted.wav')).rejects.toThrow(/without a transcript/);
  });

  it('when the ASR is slower than the timeout, then the call fails as retryable', async () => {
    simulator.script('scripted.wav', [{ status: 200, body: { text: 'late' }, delayMs: 1500 }]);
    const impatient = new AsrClient({
      url: simulator.url,
      responseFormat: 'verbose_json',
      model: 'whisper-1',
      timeoutMs: 300,
    });
    await expect(transcribe('scripted.wav', impatient)).rejects.toThrow(/did not answer within 300 ms/);
  });

  it('when nothing listens at the ASR address, then the call fails as retryable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const nowhere = new AsrClient({
      url: `http://127.0.0.1:${port}`,
      responseFormat: 'verbose_json',
      model: 'whisper-1',
      timeoutMs: 2000,
    });
    await expect(transcribe('meeting/part-1.wav', nowhere)).rejects.toThrow(/ASR unreachable: ECONNREFUSED/);
  });

  it('when the caller aborts (the job was cancelled), then the abort passes through, not as an ASR failure', async () => {
    simulator.script('scripted.wav', [{ status: 200, body: { text: 'late' }, delayMs: 1000 }]);
    const controller = new AbortController();
    const call = client.transcribe(await store.open('tester', 'scripted.wav'), { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.not.toBeInstanceOf(AsrUnavailableError);
    await expect(call).rejects.not.toBeInstanceOf(AsrRejectedError);
  });
});

describe('parseRetryAfter', () => {
  it('when given seconds or an HTTP date, then it returns milliseconds, capped at five minutes', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('86400', now)).toBe(300_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
