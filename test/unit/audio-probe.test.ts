import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AudioProbeError, probeAudio, probeAudioFile, type ReadAt } from '../../src/audio/audio-probe';
import { wavBytes } from '../../bench/wav-file';
import {
  flacClaiming,
  flacWithPicture,
  m4aClaiming,
  m4aReusingItsSamples,
  oggClaiming,
  opusWithLargeComments,
  SILENT_MP3_FRAME_SECONDS,
  silentFlac,
  silentMp3,
} from '../fixtures/audio/hostile-audio';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', 'audio', name);
const speech = (name: string) => path.join(__dirname, '..', 'fixtures', 'speech', name);

/** Reads from memory, counting the bytes handed back. */
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

function probeBytes(bytes: Buffer) {
  return probeAudio(countingReader(bytes).read, bytes.length);
}

/** Deterministic noise, so a failure can be replayed. */
function noise(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0, state = 12345; index < length; index += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

/** A WAV of `seconds` whose fmt chunk is edited by `edit`. */
function wavWithFormat(seconds: number, edit: (wav: Buffer) => void): Buffer {
  const wav = wavBytes({ seconds });
  edit(wav);
  return wav;
}

/** An ISO BMFF box: 32-bit size, four-letter type, body. */
function box(type: string, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + content.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, content]);
}

describe('probeAudio', () => {
  // Durations are ffprobe 5.1's `format=duration` for each file.
  it.each([
    ['tone-s16-mono-16k.wav', 'wav', 1.5, /^pcm_s16le 16000 Hz mono$/],
    ['tone-s24-stereo-44k.wav', 'wav', 0.5, /^pcm_s24le 44100 Hz 2 channels$/],
    ['tone-f32-mono-8k.wav', 'wav', 1.0, /^pcm_f32le 8000 Hz mono$/],
    ['tone-with-list.wav', 'wav', 1.0, /^pcm_s16le 8000 Hz mono$/],
    ['empty.wav', 'wav', 0, /^pcm_s16le/],
    ['tone.flac', 'flac', 2.0, /^flac 16000 Hz$/],
    ['tone-cbr.mp3', 'mp3', 2.06375, /^mp3 22050 Hz 32 kbit\/s$/],
    ['tone-vbr-xing.mp3', 'mp3', 2.063673, /^mp3 22050 Hz VBR$/],
    ['tone-id3.mp3', 'mp3', 2.063673, /^mp3 22050 Hz/],
    ['tone.ogg', 'ogg', 2.0, /^vorbis 16000 Hz$/],
    // ffprobe's 2.0065 s counts Opus's pre-skip, samples that are decoded and dropped (RFC 7845 section 4.2).
    ['tone.opus', 'ogg', 2.0, /^opus 48000 Hz$/],
    ['tone.m4a', 'm4a', 2.0, /^aac 16000 Hz$/],
    ['tone-faststart.m4a', 'm4a', 2.0, /^aac 16000 Hz$/],
    ['tone-fragmented.m4a', 'm4a', 2.064, /^aac 16000 Hz$/],
  ])('when the file is %s, then it is %s of the length ffprobe measures', async (name, format, seconds, codec) => {
    const probe = await probeAudioFile(fixture(name));
    expect(probe.format).toBe(format);
    expect(probe.durationSeconds).toBeCloseTo(seconds, 3);
    expect(probe.codec).toMatch(codec);
  });

  it.each([
    ['a text file named .wav', () => readFile(fixture('notes-renamed.wav'))],
    ['an empty file', async () => Buffer.alloc(0)],
    ['random bytes', async () => Buffer.from(Array.from({ length: 4096 }, (_x, i) => (i * 7919 + 13) % 251))],
    ['a PNG image', async () => Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')],
    ['an MP4 video with no sound track', () => readFile(fixture('video-only.mp4'))],
    ['an AVIF image', async () => Buffer.concat([box('ftyp', Buffer.from('avif\0\0\0\0avifmif1')), box('meta')])],
    // One plausible MP3 frame header and nothing where the next frame should start.
    [
      'one MP3 frame header before zeros',
      async () => Buffer.concat([Buffer.from('fffb9000', 'hex'), Buffer.alloc(2000)]),
    ],
  ])('when the content is %s, then it is unrecognized whatever its name', async (_, bytes) => {
    const probed = probeBytes(await bytes());
    await expect(probed).rejects.toThrow(AudioProbeError);
    await expect(probed).rejects.toMatchObject({
      name: 'AudioProbeError',
      kind: 'unrecognized',
      message: 'not a supported audio format (WAV, FLAC, MP3, Ogg, M4A)',
    });
  });

  it.each([
    ['truncated.wav', 'WAV: truncated fmt chunk'],
    ['truncated.m4a', 'M4A: a box runs past the end of the file or its parent'],
  ])('when %s claims a format but breaks off, then it is corrupt with the reason', async (name, reason) => {
    const probed = probeAudioFile(fixture(name));
    await expect(probed).rejects.toMatchObject({ kind: 'corrupt', message: `corrupt ${reason}` });
  });

  it.each([
    ['a WAV has no fmt chunk', async () => wavBytes().subarray(0, 12), 'WAV: no fmt chunk'],
    [
      'a FLAC stream does not state its sample count',
      async () => {
        const flac = Buffer.from(await readFile(fixture('tone.flac')));
        flac[21] = flac[21]! & 0xf0;
        flac.writeUInt32BE(0, 22);
        return flac;
      },
      'FLAC: the stream does not state its length',
    ],
    [
      'an ID3 tag runs past the end of the file',
      async () => Buffer.from('49443304000000007f7f', 'hex'),
      'MP3: the file ends inside its ID3 tag',
    ],
    [
      'an MP4 has a file type but no movie',
      async () => box('ftyp', Buffer.from('M4A \0\0\0\0M4A isom')),
      'M4A: no moov box',
    ],
    [
      'an Ogg file is cut off before its first audio page',
      async () => (await readFile(fixture('tone.ogg'))).subarray(0, 3000),
      'Ogg: the file ends before any audio',
    ],
  ])('when %s, then it is corrupt with the reason', async (_, bytes, reason) => {
    await expect(probeBytes(await bytes())).rejects.toMatchObject({ kind: 'corrupt', message: `corrupt ${reason}` });
  });

  it('when a WAV declares more data than the file holds, then the duration is what is on disk', async () => {
    const wav = wavBytes({ seconds: 1 });
    wav.writeUInt32LE(0xffffffff, 40);
    await expect(probeBytes(wav)).resolves.toMatchObject({ durationSeconds: 1 });
  });

  it('when a WAV has an odd-sized chunk before its data, then the pad byte is skipped', async () => {
    const wav = wavBytes({ seconds: 1 });
    const odd = Buffer.from('6a756e6b03000000616263' + '00', 'hex');
    const padded = Buffer.concat([wav.subarray(0, 36), odd, wav.subarray(36)]);
    await expect(probeBytes(padded)).resolves.toMatchObject({ format: 'wav', durationSeconds: 1 });
  });

  it('when zero bytes pad an ID3 tag before the first MP3 frame, then the frames are still found', async () => {
    const mp3 = await readFile(fixture('tone-cbr.mp3'));
    const tagged = Buffer.concat([Buffer.from('49443304000000000000', 'hex'), Buffer.alloc(100), mp3]);
    await expect(probeBytes(tagged)).resolves.toMatchObject({ format: 'mp3', durationSeconds: 2.06375 });
  });

  it('when a large WAV is probed, then only a small part of it is read', async () => {
    const wav = wavBytes({ seconds: 250 });
    const reader = countingReader(wav);
    const probe = await probeAudio(reader.read, wav.length);
    expect(probe.durationSeconds).toBeCloseTo(250, 3);
    expect(wav.length).toBeGreaterThan(3_000_000);
    expect(reader.bytesRead()).toBeLessThan(16 * 1024);
  });

  it('when a large M4A keeps its movie box after the media data, then only box headers are read to reach it', async () => {
    const small = await readFile(fixture('tone.m4a'));
    const moovAt = small.indexOf('moov') - 4;
    const mdat = Buffer.alloc(8 + 4_000_000);
    mdat.writeUInt32BE(mdat.length, 0);
    mdat.write('mdat', 4, 'latin1');
    const m4a = Buffer.concat([small.subarray(0, small.readUInt32BE(0)), mdat, small.subarray(moovAt)]);
    const reader = countingReader(m4a);
    await expect(probeAudio(reader.read, m4a.length)).resolves.toMatchObject({ format: 'm4a', durationSeconds: 2 });
    expect(reader.bytesRead()).toBeLessThan(16 * 1024);
  });

  it('when a large CBR MP3 is probed, then only a small part of it is read', async () => {
    const one = await readFile(fixture('tone-cbr.mp3'));
    const mp3 = Buffer.concat(Array.from({ length: 500 }, () => one));
    const reader = countingReader(mp3);
    const probe = await probeAudio(reader.read, mp3.length);
    expect(probe.durationSeconds).toBeCloseTo(500 * 2.06375, 3);
    expect(mp3.length).toBeGreaterThan(4_000_000);
    expect(reader.bytesRead()).toBeLessThan(16 * 1024);
  });

  describe('when a header claims less than the file plays', () => {
    const fiveMegabytes = 5_000_000;

    it.each([
      [
        'an MP3 Xing header counts 1 frame of 5 MB of frames',
        async () => silentMp3({ bytes: fiveMegabytes, claimedFrames: 1 }),
        /^corrupt MP3: it claims 0.072 s, but its 4999968 bytes of audio play for at least 237\.\d+ s even at 160 kbit\/s$/,
      ],
      [
        'an MP3 VBRI header counts 1 frame of 5 MB of frames',
        async () => silentMp3({ bytes: fiveMegabytes, claimedFrames: 1, header: 'vbri' }),
        /^corrupt MP3: it claims 0.072 s/,
      ],
      [
        'a FLAC STREAMINFO states 0.1 s of a 2 s tone',
        async () => flacClaiming(await readFile(fixture('tone.flac')), 1600),
        /^corrupt FLAC: it claims 0.1 s/,
      ],
      [
        'a FLAC STREAMINFO states 2 s of 25 hours of silence',
        async () => silentFlac({ seconds: 92_000, claimedSeconds: 2 }),
        /^corrupt FLAC: it claims 2 s, but its \d+ bytes of audio play for at least 14\d\.\d+ s/,
      ],
      [
        'an Ogg Opus last page states 1 s of a minute of speech',
        async () => oggClaiming(await readFile(speech('harbor.opus')), 48_000n + 312n),
        /^corrupt Ogg: it claims 1 s/,
      ],
      [
        'an M4A movie and media headers state 0.01 s of a 2 s tone',
        async () => m4aClaiming(await readFile(fixture('tone.m4a')), 0.01),
        /^corrupt M4A: it claims 0.01 s/,
      ],
      [
        'an M4A sample table plays the same 2 s a hundred times',
        async () => m4aReusingItsSamples(await readFile(fixture('tone.m4a')), 100),
        /^corrupt M4A: it claims 2 s/,
      ],
      [
        'an ADPCM WAV fact chunk counts 1 sample of a megabyte of data',
        async () => {
          const fact = Buffer.from('666163740400000001000000', 'hex');
          const wav = wavBytes({ bytes: 1_000_000 });
          wav.writeUInt16LE(0x11, 20);
          return Buffer.concat([wav.subarray(0, 36), fact, wav.subarray(36)]);
        },
        /^corrupt WAV: it claims 0 s/,
      ],
    ])('when %s, then it is corrupt, saying what the bytes would play', async (_, bytes, reason) => {
      const probed = probeBytes(await bytes());
      await expect(probed).rejects.toMatchObject({ kind: 'corrupt', message: expect.stringMatching(reason) });
    });

    it('when a 5 MB MP3 lies in its Xing header, then it is refused from a few small reads', async () => {
      const mp3 = silentMp3({ bytes: fiveMegabytes, claimedFrames: 1 });
      const reader = countingReader(mp3);
      await expect(probeAudio(reader.read, mp3.length)).rejects.toMatchObject({ kind: 'corrupt' });
      expect(reader.bytesRead()).toBeLessThan(16 * 1024);
    });
  });

  describe('when a file is honest but unusual', () => {
    it('when a 5 MB MP3 counts its 83 minutes of frames, then that is its duration, for the length limit to refuse', async () => {
      const mp3 = silentMp3({ bytes: 5_000_000 });
      const frames = mp3.length / 72 - 1;
      await expect(probeBytes(mp3)).resolves.toMatchObject({
        format: 'mp3',
        durationSeconds: frames * SILENT_MP3_FRAME_SECONDS,
      });
    });

    it.each([
      ['a byte rate 100 times what its samples take', (wav: Buffer) => wav.writeUInt32LE(8000 * 2 * 100, 28)],
      [
        'blocks 100 times the size of its samples',
        (wav: Buffer) => {
          wav.writeUInt32LE(8000 * 200, 28);
          wav.writeUInt16LE(200, 32);
        },
      ],
    ])(
      'when a PCM WAV states %s, then its duration is what its samples play, as a decoder plays them',
      async (_, edit) => {
        await expect(probeBytes(wavWithFormat(10, edit))).resolves.toMatchObject({
          format: 'wav',
          durationSeconds: 10,
        });
      },
    );

    it('when a FLAC carries a megabyte of cover art, then the picture is not counted as audio', async () => {
      const flac = flacWithPicture(await readFile(fixture('tone.flac')), 1_000_000);
      const reader = countingReader(flac);
      await expect(probeAudio(reader.read, flac.length)).resolves.toMatchObject({ format: 'flac', durationSeconds: 2 });
      expect(reader.bytesRead()).toBeLessThan(16 * 1024);
    });

    it('when an Ogg Opus file carries a megabyte in its comment header, then the comments are not counted as audio', async () => {
      const opus = opusWithLargeComments(await readFile(fixture('tone.opus')), 1_000_000);
      const reader = countingReader(opus);
      await expect(probeAudio(reader.read, opus.length)).resolves.toMatchObject({ format: 'ogg', durationSeconds: 2 });
      // The last 64 KiB, where the final page is looked for, and the header of each comment page.
      expect(reader.bytesRead()).toBeLessThan(80 * 1024);
    });

    it('when a FLAC states its 25 hours of silence, then that is its duration: lossless silence takes no room', async () => {
      const flac = silentFlac({ seconds: 92_000, claimedSeconds: 92_000 });
      await expect(probeBytes(flac)).resolves.toMatchObject({ format: 'flac', durationSeconds: 92_000 });
    });
  });

  describe('when the structure is hostile', () => {
    it('when an MP4 box claims a terabyte, then it is corrupt', async () => {
      const huge = Buffer.alloc(16);
      huge.writeUInt32BE(1, 0);
      huge.write('mdat', 4, 'latin1');
      huge.writeBigUInt64BE(2n ** 40n, 8);
      const m4a = Buffer.concat([box('ftyp', Buffer.from('M4A \0\0\0\0M4A isom')), huge, Buffer.alloc(1000)]);
      await expect(probeBytes(m4a)).rejects.toMatchObject({
        kind: 'corrupt',
        message: 'corrupt M4A: a box runs past the end of the file or its parent',
      });
    });

    it('when an MP4 nests boxes 100 000 deep, then it is refused after reading a few of them', async () => {
      const depth = 100_000;
      const nested = Buffer.alloc(8 * depth);
      for (let level = 0; level < depth; level += 1) {
        nested.writeUInt32BE(8 * (depth - level), 8 * level);
        nested.write('trak', 8 * level + 4, 'latin1');
      }
      const mvhd = box('mvhd', Buffer.alloc(100));
      mvhd.writeUInt32BE(1000, 8 + 12);
      const m4a = Buffer.concat([box('ftyp', Buffer.from('M4A \0\0\0\0M4A isom')), box('moov', mvhd, nested)]);
      const reader = countingReader(m4a);
      await expect(probeAudio(reader.read, m4a.length)).rejects.toMatchObject({ kind: 'unrecognized' });
      expect(reader.bytesRead()).toBeLessThan(16 * 1024);
    });

    it.each([
      ['WAV', Buffer.from('RIFF\xff\xff\xff\x7fWAVE', 'latin1')],
      ['FLAC', Buffer.from('fLaC', 'latin1')],
      ['Ogg', Buffer.from('OggS', 'latin1')],
      ['MP4', Buffer.from('\0\0\0\x20ftypM4A ', 'latin1')],
      ['ID3', Buffer.from('494433040000000000', 'hex')],
    ])(
      'when a %s signature is followed by 5 MB of noise, then it is refused from a few small reads',
      async (_, magic) => {
        const bytes = Buffer.concat([magic, noise(5_000_000)]);
        const reader = countingReader(bytes);
        await expect(probeAudio(reader.read, bytes.length)).rejects.toThrow(AudioProbeError);
        expect(reader.bytesRead()).toBeLessThan(128 * 1024);
      },
    );
  });
});
