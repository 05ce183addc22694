import { open } from 'node:fs/promises';

export type AudioFormat = 'wav' | 'flac' | 'mp3' | 'ogg' | 'm4a';
export const SUPPORTED_AUDIO_FORMATS: readonly AudioFormat[] = ['wav', 'flac', 'mp3', 'ogg', 'm4a'];

/** What a file holds, from its content: the container, the codec, and how long it plays. */
export interface AudioProbe {
  format: AudioFormat;
  durationSeconds: number;
  /** e.g. `pcm_s16le 16000 Hz mono`, `vorbis 44100 Hz`, `opus`, `mp3 128 kbit/s`, `mp4 audio` */
  codec: string;
}

/** Reads up to `length` bytes at `offset`; returns fewer at the end of the file. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** The content is not a supported audio format (`unrecognized`), or claims one and breaks its rules (`corrupt`). */
export class AudioProbeError extends Error {
  constructor(
    readonly kind: 'unrecognized' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'AudioProbeError';
  }
}

const HEAD_BYTES = 4096;
const OGG_TAIL_BYTES = 64 * 1024;
/** Enough for any real file's chunk or box list; a file needing more is built to make us read it all. */
const MAX_STRUCTURES = 4096;

const unrecognized = () =>
  new AudioProbeError('unrecognized', 'not a supported audio format (WAV, FLAC, MP3, Ogg, M4A)');
const corrupt = (format: string, why: string) => new AudioProbeError('corrupt', `corrupt ${format}: ${why}`);

/**
 * Sniffs the format from the first bytes and measures the duration from the container's own headers, reading a
 * few small slices (never the whole file), so a thousand files can be checked at once.
 */
export async function probeAudio(read: ReadAt, size: number): Promise<AudioProbe> {
  const head = Buffer.from(await read(0, Math.min(HEAD_BYTES, size)));
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WAVE') return probeWav(read, size);
  if (head.length >= 4 && ascii(head, 0, 4) === 'OggS') return probeOgg(read, size, head);
  if (head.length >= 8 && ascii(head, 4, 4) === 'ftyp') return probeMp4(read, size);
  let offset = 0;
  if (head.length >= 10 && ascii(head, 0, 3) === 'ID3') offset = id3v2Size(head);
  const start = offset === 0 ? head : Buffer.from(await read(offset, Math.min(HEAD_BYTES, Math.max(0, size - offset))));
  if (start.length >= 4 && ascii(start, 0, 4) === 'fLaC') return probeFlac(read, offset);
  return probeMp3(read, size, offset, start);
}

/** Probes a file on disk with positional reads. */
export async function probeAudioFile(filePath: string): Promise<AudioProbe> {
  const handle = await open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    return await probeAudio(async (offset, length) => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    }, size);
  } finally {
    await handle.close();
  }
}

function ascii(buffer: Buffer, offset: number, length: number): string {
  return buffer.toString('latin1', offset, offset + length);
}

async function readExactly(read: ReadAt, offset: number, length: number, format: string, what: string) {
  const bytes = Buffer.from(await read(offset, length));
  if (bytes.length < length) throw corrupt(format, `truncated ${what}`);
  return bytes;
}

// --- WAV --------------------------------------------------------------------------------------------------------

const WAV_CODECS: Record<number, string> = { 1: 'pcm', 3: 'float', 6: 'alaw', 7: 'mulaw' };

async function probeWav(read: ReadAt, size: number): Promise<AudioProbe> {
  let offset = 12;
  let format: { code: number; channels: number; sampleRate: number; byteRate: number; bits: number } | undefined;
  for (let count = 0; count < MAX_STRUCTURES && offset + 8 <= size; count += 1) {
    const header = await readExactly(read, offset, 8, 'WAV', 'chunk header');
    const id = ascii(header, 0, 4);
    const chunkSize = header.readUInt32LE(4);
    if (id === 'fmt ') {
      if (chunkSize < 16) throw corrupt('WAV', 'fmt chunk too short');
      const fmt = await readExactly(read, offset + 8, Math.min(chunkSize, 40), 'WAV', 'fmt chunk');
      let code = fmt.readUInt16LE(0);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (code === 0xfffe && fmt.length >= 26) code = fmt.readUInt16LE(24);
      format = {
        code,
        channels: fmt.readUInt16LE(2),
        sampleRate: fmt.readUInt32LE(4),
        byteRate: fmt.readUInt32LE(8),
        bits: fmt.readUInt16LE(14),
      };
      if (format.byteRate === 0 || format.sampleRate === 0 || format.channels === 0) {
        throw corrupt('WAV', 'fmt chunk has a zero rate or no channels');
      }
    } else if (id === 'data') {
      if (!format) throw corrupt('WAV', 'data before the fmt chunk');
      const present = size - (offset + 8);
      // Streaming writers leave the size 0xFFFFFFFF (or too large); what is on disk is what plays.
      const dataBytes = chunkSize === 0xffffffff || chunkSize > present ? present : chunkSize;
      const name = WAV_CODECS[format.code] ?? `format 0x${format.code.toString(16)}`;
      const sample = name === 'pcm' ? `pcm_s${format.bits}le` : name;
      return {
        format: 'wav',
        durationSeconds: dataBytes / format.byteRate,
        codec: `${sample} ${format.sampleRate} Hz ${format.channels === 1 ? 'mono' : `${format.channels} channels`}`,
      };
    }
    // Chunks are padded to an even size.
    offset += 8 + chunkSize + (chunkSize % 2);
  }
  throw corrupt('WAV', format ? 'no data chunk' : 'no fmt chunk');
}

// --- FLAC -------------------------------------------------------------------------------------------------------

async function probeFlac(read: ReadAt, offset: number): Promise<AudioProbe> {
  const block = await readExactly(read, offset + 4, 4 + 34, 'FLAC', 'STREAMINFO');
  if ((block[0]! & 0x7f) !== 0) throw corrupt('FLAC', 'first metadata block is not STREAMINFO');
  const info = streamInfo(block.subarray(4));
  return { format: 'flac', durationSeconds: info.durationSeconds, codec: `flac ${info.sampleRate} Hz` };
}

/** STREAMINFO's sample rate and duration. A stream that does not state its sample count has no known duration,
 * and a duration limit cannot be enforced on it, so it is refused rather than guessed. */
function streamInfo(info: Buffer): { sampleRate: number; durationSeconds: number } {
  const sampleRate = (info.readUInt32BE(10) >>> 12) & 0xfffff;
  const totalSamples = (info.readUInt8(13) & 0x0f) * 2 ** 32 + info.readUInt32BE(14);
  if (sampleRate === 0) throw corrupt('FLAC', 'sample rate is 0');
  if (totalSamples === 0) throw corrupt('FLAC', 'the stream does not state its length');
  return { sampleRate, durationSeconds: totalSamples / sampleRate };
}

// --- MP3 --------------------------------------------------------------------------------------------------------

/** Size of an ID3v2 tag, header (and footer) included: its size field is "synchsafe", 7 bits per byte. */
function id3v2Size(head: Buffer): number {
  const size = (head[6]! << 21) | (head[7]! << 14) | (head[8]! << 7) | head[9]!;
  return 10 + size + (head[5]! & 0x10 ? 10 : 0);
}

const MP3_BITRATES = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MP3_SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

interface Mp3Frame {
  version: number;
  sampleRate: number;
  bitrateKbps: number;
  samplesPerFrame: number;
  length: number;
  mono: boolean;
}

/** Parses an MPEG audio Layer III frame header, or undefined if these 4 bytes are not one. */
function mp3Frame(bytes: Buffer, at: number): Mp3Frame | undefined {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (bytes[at + 1]! >> 3) & 3;
  const layer = (bytes[at + 1]! >> 1) & 3;
  const bitrateIndex = bytes[at + 2]! >> 4;
  const rateIndex = (bytes[at + 2]! >> 2) & 3;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const sampleRate = MP3_SAMPLE_RATES[version]![rateIndex]!;
  const bitrateKbps = (version === 3 ? MP3_BITRATES.v1 : MP3_BITRATES.v2)[bitrateIndex]!;
  const samplesPerFrame = version === 3 ? 1152 : 576;
  const padding = (bytes[at + 2]! >> 1) & 1;
  const length = Math.floor((samplesPerFrame / 8) * ((bitrateKbps * 1000) / sampleRate)) + padding;
  return { version, sampleRate, bitrateKbps, samplesPerFrame, length, mono: bytes[at + 3]! >> 6 === 3 };
}

async function probeMp3(read: ReadAt, size: number, offset: number, start: Buffer): Promise<AudioProbe> {
  const frame = mp3Frame(start, 0);
  if (!frame) throw unrecognized();
  // One valid-looking header is 11 set bits and a few fields: random bytes match often enough. The next frame
  // must follow right after, with the same version and rate.
  const nextAt = offset + frame.length;
  if (nextAt + 4 <= size) {
    const next = mp3Frame(Buffer.from(await read(nextAt, 4)), 0);
    if (!next || next.version !== frame.version || next.sampleRate !== frame.sampleRate) throw unrecognized();
  }
  const frameBytes =
    start.length >= frame.length ? start : await readExactly(read, offset, frame.length, 'MP3', 'frame');
  const sideInfo = frame.version === 3 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xingAt = 4 + sideInfo;
  const tag = ascii(frameBytes, xingAt, 4);
  if (
    (tag === 'Xing' || tag === 'Info') &&
    frameBytes.length >= xingAt + 12 &&
    frameBytes.readUInt32BE(xingAt + 4) & 1
  ) {
    const frames = frameBytes.readUInt32BE(xingAt + 8);
    return mp3Result(frame, (frames * frame.samplesPerFrame) / frame.sampleRate, tag === 'Xing');
  }
  if (ascii(frameBytes, 36, 4) === 'VBRI' && frameBytes.length >= 36 + 18) {
    const frames = frameBytes.readUInt32BE(36 + 14);
    return mp3Result(frame, (frames * frame.samplesPerFrame) / frame.sampleRate, true);
  }
  const tail = size >= 128 ? Buffer.from(await read(size - 128, 3)) : Buffer.alloc(0);
  const audioBytes = size - offset - (ascii(tail, 0, 3) === 'TAG' ? 128 : 0);
  return mp3Result(frame, (audioBytes * 8) / (frame.bitrateKbps * 1000), false);
}

function mp3Result(frame: Mp3Frame, durationSeconds: number, variable: boolean): AudioProbe {
  return {
    format: 'mp3',
    durationSeconds,
    codec: `mp3 ${frame.sampleRate} Hz ${variable ? 'VBR' : `${frame.bitrateKbps} kbit/s`}`,
  };
}

// --- Ogg --------------------------------------------------------------------------------------------------------

async function probeOgg(read: ReadAt, size: number, head: Buffer): Promise<AudioProbe> {
  if (head.length < 28 || head[4] !== 0) throw corrupt('Ogg', 'bad first page header');
  const serial = head.readUInt32LE(14);
  const segments = head[26]!;
  const packetAt = 27 + segments;
  if (head.length < packetAt + 19) throw corrupt('Ogg', 'truncated first page');
  const packet = head.subarray(packetAt);
  let codec: string;
  let rate: number;
  let preSkip = 0;
  if (packet[0] === 1 && ascii(packet, 1, 6) === 'vorbis') {
    codec = 'vorbis';
    rate = packet.readUInt32LE(12);
  } else if (ascii(packet, 0, 8) === 'OpusHead') {
    codec = 'opus';
    // Opus always counts granules at 48 kHz, whatever rate the input had; the first pre-skip samples are dropped.
    rate = 48000;
    preSkip = packet.readUInt16LE(10);
  } else if (packet[0] === 0x7f && ascii(packet, 1, 4) === 'FLAC' && ascii(packet, 9, 4) === 'fLaC') {
    codec = 'flac';
    if (packet.length < 13 + 4 + 34) throw corrupt('Ogg', 'truncated FLAC header');
    rate = (packet.readUInt32BE(13 + 4 + 10) >>> 12) & 0xfffff;
  } else {
    throw unrecognized();
  }
  if (rate === 0) throw corrupt('Ogg', 'sample rate is 0');
  const granule = await lastGranule(read, size, serial);
  return { format: 'ogg', durationSeconds: Math.max(0, granule - preSkip) / rate, codec: `${codec} ${rate} Hz` };
}

/** The granule position (samples played so far) of the stream's last page, found from the end of the file. */
async function lastGranule(read: ReadAt, size: number, serial: number): Promise<number> {
  const from = Math.max(0, size - OGG_TAIL_BYTES);
  const tail = Buffer.from(await read(from, size - from));
  for (let at = tail.lastIndexOf('OggS'); at >= 0; at = at === 0 ? -1 : tail.lastIndexOf('OggS', at - 1)) {
    if (at + 27 > tail.length || tail[at + 4] !== 0 || tail.readUInt32LE(at + 14) !== serial) continue;
    const granule = tail.readBigUInt64LE(at + 6);
    // All ones: no packet ends on this page.
    if (granule !== 0xffffffffffffffffn) return Number(granule);
  }
  throw corrupt('Ogg', 'no final page with a position');
}

// --- MP4 / M4A --------------------------------------------------------------------------------------------------

interface Box {
  type: string;
  start: number;
  headerSize: number;
  end: number;
}

async function readBox(read: ReadAt, at: number, limit: number): Promise<Box> {
  const header = await readExactly(read, at, Math.min(16, limit - at), 'M4A', 'box header');
  if (header.length < 8) throw corrupt('M4A', 'truncated box header');
  const size32 = header.readUInt32BE(0);
  const type = ascii(header, 4, 4);
  let size = size32;
  let headerSize = 8;
  if (size32 === 1) {
    if (header.length < 16) throw corrupt('M4A', 'truncated box header');
    size = Number(header.readBigUInt64BE(8));
    headerSize = 16;
  } else if (size32 === 0) {
    size = limit - at;
  }
  if (size < headerSize || at + size > limit) throw corrupt('M4A', `box ${JSON.stringify(type)} overruns its parent`);
  return { type, start: at, headerSize, end: at + size };
}

async function findBox(read: ReadAt, from: number, to: number, type: string): Promise<Box | undefined> {
  let at = from;
  for (let count = 0; count < MAX_STRUCTURES && at + 8 <= to; count += 1) {
    const box = await readBox(read, at, to);
    if (box.type === type) return box;
    at = box.end;
  }
  return undefined;
}

async function probeMp4(read: ReadAt, size: number): Promise<AudioProbe> {
  // The movie box may come first ("fast start") or after the media data; only box headers are read to find it.
  const moov = await findBox(read, 0, size, 'moov');
  if (!moov) throw corrupt('M4A', 'no moov box');
  const mvhd = await findBox(read, moov.start + moov.headerSize, moov.end, 'mvhd');
  if (!mvhd) throw corrupt('M4A', 'no mvhd box');
  const body = await readExactly(read, mvhd.start + mvhd.headerSize, 32, 'M4A', 'mvhd box');
  const version = body[0];
  const timescale = version === 1 ? body.readUInt32BE(20) : body.readUInt32BE(12);
  const duration = version === 1 ? Number(body.readBigUInt64BE(24)) : body.readUInt32BE(16);
  if (timescale === 0) throw corrupt('M4A', 'timescale is 0');
  return { format: 'm4a', durationSeconds: duration / timescale, codec: 'mp4 audio' };
}
