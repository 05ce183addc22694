import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AudioProbeError, probeAudio, probeAudioFile, type ReadAt } from '../../src/audio/audio-probe';
import { wavBytes } from '../../bench/wav-file';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', 'audio', name);

/** Reads from memory, counting the bytes asked for. */
function countingReader(bytes: Buffer): { read: ReadAt; bytesRead: () => number } {
  let total = 0;
  return {
    read: async (offset, length) => {
      const slice = bytes.subarray(offset, offset + length);
      total += slice.length;
      return slice;
    },
    bytesRead: () => total,
  };
}

describe('probeAudio', () => {
  it.each([
    ['tone-s16-mono-16k.wav', 'wav', 1.5, /pcm_s16le 16000 Hz mono/],
    ['tone-s24-stereo-44k.wav', 'wav', 0.5, /pcm_s24le 44100 Hz 2 channels/],
    ['tone-f32-mono-8k.wav', 'wav', 1.0, /float 8000 Hz/],
    ['tone-with-list.wav', 'wav', 1.0, /pcm/],
    ['empty.wav', 'wav', 0, /pcm/],
    ['tone.flac', 'flac', 2.0, /flac 16000 Hz/],
    ['tone-cbr.mp3', 'mp3', 2.06375, /32 kbit/],
    ['tone-vbr-xing.mp3', 'mp3', 2.063673, /VBR/],
    ['tone-id3.mp3', 'mp3', 2.063673, /mp3/],
    ['tone.ogg', 'ogg', 2.0, /vorbis 16000 Hz/],
    // ffprobe's 2.0065 s counts Opus's pre-skip, samples that are decoded and dropped (RFC 7845 section 4.2).
    ['tone.opus', 'ogg', 2.0, /opus/],
    ['tone.m4a', 'm4a', 2.0, /mp4/],
    ['tone-faststart.m4a', 'm4a', 2.0, /mp4/],
  ])('when the file is %s, then it is %s of the length ffprobe measures', async (name, format, seconds, codec) => {
    const probe = await probeAudioFile(fixture(name));
    expect(probe.format).toBe(format);
    expect(probe.durationSeconds).toBeCloseTo(seconds, 2);
    expect(probe.codec).toMatch(codec);
  });

  it.each([
    ['a text file named .wav', 'notes-renamed.wav'],
    ['an empty file', undefined],
    ['random bytes', 'random'],
  ])('when the content is %s, then it is unrecognized whatever its name', async (_, name) => {
    const bytes =
      name === undefined
        ? Buffer.alloc(0)
        : name === 'random'
          ? Buffer.from(Array.from({ length: 4096 }, (_x, i) => (i * 7919 + 13) % 251))
          : await readFile(fixture(name));
    const { read } = countingReader(bytes);
    const probed = probeAudio(read, bytes.length);
    await expect(probed).rejects.toThrow(AudioProbeError);
    await expect(probed).rejects.toMatchObject({
      kind: 'unrecognized',
      message: expect.stringMatching(/WAV, FLAC, MP3, Ogg, M4A/),
    });
  });

  it.each([
    ['truncated.wav', /corrupt WAV/],
    ['truncated.m4a', /corrupt M4A/],
  ])('when %s claims a format but breaks off, then it is corrupt with the reason', async (name, reason) => {
    const probed = probeAudioFile(fixture(name));
    await expect(probed).rejects.toMatchObject({ kind: 'corrupt', message: expect.stringMatching(reason) });
  });

  it('when a WAV declares more data than the file holds, then the duration is what is on disk', async () => {
    const wav = wavBytes({ seconds: 1 });
    wav.writeUInt32LE(0xffffffff, 40);
    const { read } = countingReader(wav);
    await expect(probeAudio(read, wav.length)).resolves.toMatchObject({ durationSeconds: 1 });
  });

  it('when the file is large, then only a small part of it is read', async () => {
    const wav = wavBytes({ seconds: 250 });
    const reader = countingReader(wav);
    const probe = await probeAudio(reader.read, wav.length);
    expect(probe.durationSeconds).toBeCloseTo(250, 3);
    expect(wav.length).toBeGreaterThan(3_000_000);
    expect(reader.bytesRead()).toBeLessThan(16 * 1024);

    // The movie box after 4 MB of media data, as encoders write it by default: found by hopping box headers.
    const small = await readFile(fixture('tone.m4a'));
    const moovAt = small.indexOf('moov') - 4;
    const mdat = Buffer.alloc(8 + 4_000_000);
    mdat.writeUInt32BE(mdat.length, 0);
    mdat.write('mdat', 4, 'latin1');
    const m4a = Buffer.concat([small.subarray(0, small.readUInt32BE(0)), mdat, small.subarray(moovAt)]);
    const mp4Reader = countingReader(m4a);
    await expect(probeAudio(mp4Reader.read, m4a.length)).resolves.toMatchObject({ format: 'm4a', durationSeconds: 2 });
    expect(mp4Reader.bytesRead()).toBeLessThan(16 * 1024);
  });
});
