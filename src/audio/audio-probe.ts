import { open, type FileHandle } from 'node:fs/promises';

/** A container the probe recognises from content; `m4a` covers any MP4 file with a sound track. */
export type AudioFormat = 'wav' | 'flac' | 'mp3' | 'ogg' | 'm4a';

/** What a file holds, from its content: the container, the codec, and how long it plays. */
export interface AudioProbe {
  format: AudioFormat;
  durationSeconds: number;
  /** e.g. `pcm_s16le 16000 Hz mono`, `vorbis 44100 Hz`, `opus 48000 Hz`, `mp3 22050 Hz 32 kbit/s`, `aac 16000 Hz` */
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
/** A movie fragment header lists its samples; past this it is not worth reading to learn one number. */
const MAX_MOOF_BYTES = 128 * 1024;
/** Enough for any real file's chunk or box list; a file needing more is built to make us read it all. */
const MAX_STRUCTURES = 4096;

const unrecognized = () =>
  new AudioProbeError('unrecognized', 'not a supported audio format (WAV, FLAC, MP3, Ogg, M4A)');
const corrupt = (format: string, why: string) => new AudioProbeError('corrupt', `corrupt ${format}: ${why}`);

/**
 * Bytes among a file's audio that a duration claim may leave unexplained: tags the probe does not parse (APE,
 * Lyrics3, an ID3v2 tag at the end), padding and junk between frames, container framing. Generous on purpose, so
 * that real files are not refused, while a lie big enough to matter (minutes claimed as seconds) is still caught.
 */
const UNEXPLAINED_BYTES = 4096;
const UNEXPLAINED_SHARE = 0.05;
/** A ceiling for codecs that state none: 64-bit samples, more than uncompressed double-precision PCM spends. */
const UNCOMPRESSED_CEILING_BITS = 64;
/**
 * Opus states 510 kbit/s for a stream of one or two channels (RFC 6716); libopus clamps a requested bitrate to
 * 300 kbit/s per channel (OPUS_SET_BITRATE in opus_encoder.c) and FFmpeg's own encoder to 255. 750 per channel
 * leaves room for any of them and for the Ogg pages around the packets.
 */
const OPUS_CEILING_PER_CHANNEL = 750_000;

/**
 * Refuses a duration claim shorter than the file's audio bytes would play at the codec's highest bitrate: a header
 * that says seconds over megabytes of frames is a lie, and the decoder would play every frame (a 5 MB MP3 whose
 * Xing header counts 1 frame plays for 84 minutes). The bound is one-sided: a file can still play longer than it
 * claims when its frames sit below the ceiling, which is why the ASR engine stops decoding at its own limit.
 */
function checkClaim(format: string, claimedSeconds: number, audioBytes: number, ceilingBitsPerSecond: number): void {
  if (!(ceilingBitsPerSecond > 0)) throw corrupt(format, 'the header states no channels or no sample rate');
  const explained = Math.max(0, audioBytes * (1 - UNEXPLAINED_SHARE) - UNEXPLAINED_BYTES);
  const minimumSeconds = (explained * 8) / ceilingBitsPerSecond;
  if (claimedSeconds < minimumSeconds) {
    throw corrupt(
      format,
      `it claims ${round(claimedSeconds)} s, but its ${audioBytes} bytes of audio play for at least ` +
        `${round(minimumSeconds)} s even at ${Math.round(ceilingBitsPerSecond / 1000)} kbit/s`,
    );
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * Sniffs the format from the first bytes and measures the duration from the container's own headers, reading a
 * few small slices (never the whole file), so a thousand files can be checked at once.
 */
export async function probeAudio(read: ReadAt, size: number): Promise<AudioProbe> {
  const head = Buffer.from(await read(0, Math.min(HEAD_BYTES, size)));
  const riff = ascii(head, 0, 4);
  if ((riff === 'RIFF' || riff === 'RF64' || riff === 'BW64') && ascii(head, 8, 4) === 'WAVE') {
    return probeWav(read, size);
  }
  if (ascii(head, 0, 4) === 'OggS') return probeOgg(read, size, head);
  if (ascii(head, 4, 4) === 'ftyp') return probeMp4(read, size, head);
  let offset = 0;
  if (isId3v2(head)) {
    offset = id3v2Size(head);
    if (offset >= size) throw corrupt('MP3', 'the file ends inside its ID3 tag');
  }
  const start = offset === 0 ? head : Buffer.from(await read(offset, Math.min(HEAD_BYTES, size - offset)));
  if (ascii(start, 0, 4) === 'fLaC') return probeFlac(read, size, offset);
  return probeMp3(read, size, offset, start);
}

/** Probes a file on disk with positional reads, closing it whatever happens. */
export async function probeAudioFile(filePath: string): Promise<AudioProbe> {
  const handle = await open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    return await probeAudio(fileReader(handle, size), size);
  } finally {
    await handle.close();
  }
}

/** Positional reads from an open file of `size` bytes, for {@link probeAudio}. */
export function fileReader(handle: FileHandle, size: number): ReadAt {
  return async (offset, length) => {
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  };
}

/** Latin-1 so that any byte maps to one character; out-of-range parts come back shorter and never match. */
function ascii(buffer: Buffer, offset: number, length: number): string {
  return buffer.toString('latin1', offset, offset + length);
}

async function readExactly(read: ReadAt, offset: number, length: number, format: string, what: string) {
  const bytes = Buffer.from(await read(offset, length));
  if (bytes.length < length) throw corrupt(format, `truncated ${what}`);
  return bytes;
}

interface WavFormat {
  code: number;
  channels: number;
  sampleRate: number;
  byteRate: number;
  bits: number;
}

/** PCM, float, A-law and µ-law: a fixed number of bits per sample, so the data size alone is the duration. */
function isPcm(format: WavFormat): boolean {
  return format.code === 1 || format.code === 3 || format.code === 6 || format.code === 7;
}

async function probeWav(read: ReadAt, size: number): Promise<AudioProbe> {
  let offset = 12;
  let format: WavFormat | undefined;
  let factSamples: number | undefined;
  let ds64DataBytes: number | undefined;
  for (let count = 0; count < MAX_STRUCTURES && offset + 8 <= size; count += 1) {
    const header = await readExactly(read, offset, 8, 'WAV', 'chunk header');
    const id = ascii(header, 0, 4);
    const chunkSize = header.readUInt32LE(4);
    if (id === 'fmt ') {
      format = await wavFormat(read, offset + 8, chunkSize);
    } else if (id === 'fact' && chunkSize >= 4) {
      factSamples = (await readExactly(read, offset + 8, 4, 'WAV', 'fact chunk')).readUInt32LE(0);
    } else if (id === 'ds64' && chunkSize >= 16) {
      // RF64 (EBU Tech 3306) keeps sizes past 4 GB here and writes 0xFFFFFFFF in the data chunk.
      ds64DataBytes = Number((await readExactly(read, offset + 16, 8, 'WAV', 'ds64 chunk')).readBigUInt64LE(0));
    } else if (id === 'data') {
      if (!format) throw corrupt('WAV', 'data before the fmt chunk');
      const present = size - (offset + 8);
      const declared = chunkSize === 0xffffffff ? (ds64DataBytes ?? present) : chunkSize;
      // Streaming writers leave the size 0xFFFFFFFF, or too large; what is on disk is what plays.
      const dataBytes = Math.min(declared, present);
      const durationSeconds = wavDuration(format, dataBytes, factSamples);
      if (!isPcm(format)) {
        checkClaim('WAV', durationSeconds, dataBytes, UNCOMPRESSED_CEILING_BITS * format.sampleRate * format.channels);
      }
      return { format: 'wav', durationSeconds, codec: wavCodec(format) };
    }
    // Chunks are padded to an even size.
    offset += 8 + chunkSize + (chunkSize % 2);
  }
  throw corrupt('WAV', format ? 'no data chunk' : 'no fmt chunk');
}

async function wavFormat(read: ReadAt, at: number, chunkSize: number): Promise<WavFormat> {
  if (chunkSize < 16) throw corrupt('WAV', 'fmt chunk too short');
  const fmt = await readExactly(read, at, Math.min(chunkSize, 40), 'WAV', 'fmt chunk');
  let code = fmt.readUInt16LE(0);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the first two bytes of its sub-format GUID.
  if (code === 0xfffe && fmt.length >= 26) code = fmt.readUInt16LE(24);
  const format = {
    code,
    channels: fmt.readUInt16LE(2),
    sampleRate: fmt.readUInt32LE(4),
    byteRate: fmt.readUInt32LE(8),
    bits: fmt.readUInt16LE(14),
  };
  if (format.byteRate === 0 || format.sampleRate === 0 || format.channels === 0) {
    throw corrupt('WAV', 'fmt chunk has a zero rate or no channels');
  }
  if (isPcm(format) && format.bits === 0) throw corrupt('WAV', 'fmt chunk states 0 bits per sample');
  return format;
}

/**
 * PCM plays one sample of `bits` per channel per instant: FFmpeg decodes it so whatever the header's byte rate and
 * block size say, so those two (which a writer can get wrong, or a hostile file can inflate to shorten the
 * duration a hundredfold) are not used. Compressed codecs (ADPCM, MP3 in WAV) state only an average byte rate,
 * often wrong, so their `fact` sample count wins when there is one.
 */
function wavDuration(format: WavFormat, dataBytes: number, factSamples: number | undefined): number {
  if (isPcm(format)) return dataBytes / (format.sampleRate * format.channels * Math.ceil(format.bits / 8));
  if (factSamples !== undefined && factSamples > 0) return factSamples / format.sampleRate;
  return dataBytes / format.byteRate;
}

/** Names as ffmpeg's, so a probe reads like `ffprobe` output. */
function wavCodec(format: WavFormat): string {
  const names: Record<number, string> = {
    1: format.bits === 8 ? 'pcm_u8' : `pcm_s${format.bits}le`,
    2: 'adpcm_ms',
    3: `pcm_f${format.bits}le`,
    6: 'pcm_alaw',
    7: 'pcm_mulaw',
    0x11: 'adpcm_ima_wav',
    0x55: 'mp3',
  };
  const name = names[format.code] ?? `wav format 0x${format.code.toString(16)}`;
  return `${name} ${format.sampleRate} Hz ${format.channels === 1 ? 'mono' : `${format.channels} channels`}`;
}

async function probeFlac(read: ReadAt, size: number, offset: number): Promise<AudioProbe> {
  const block = await readExactly(read, offset + 4, 4 + 34, 'FLAC', 'STREAMINFO');
  if ((block[0]! & 0x7f) !== 0) throw corrupt('FLAC', 'first metadata block is not STREAMINFO');
  if (block.readUIntBE(1, 3) < 34) throw corrupt('FLAC', 'STREAMINFO too short');
  const info = streamInfo(block.subarray(4));
  // A total of 0 means "unknown" (a live encoder that never went back to fill it in): such a stream has no known
  // duration, and a duration limit could not be enforced on it without decoding every frame, so it is refused
  // rather than guessed from the file size, which for lossless audio says little.
  if (info.sampleRate === 0) throw corrupt('FLAC', 'sample rate is 0');
  if (info.totalSamples === 0) throw corrupt('FLAC', 'the stream does not state its length');
  const durationSeconds = info.totalSamples / info.sampleRate;
  const audioStart = await flacAudioStart(read, size, offset + 4);
  const audioBytes = size - audioStart - (await id3v1Bytes(read, size, audioStart));
  checkClaim('FLAC', durationSeconds, audioBytes, flacCeiling(info, 0));
  return { format: 'flac', durationSeconds, codec: `flac ${info.sampleRate} Hz` };
}

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  minBlockSize: number;
  totalSamples: number;
}

/** The fields of a FLAC STREAMINFO block that say how long the stream is and how many bits a second can take. */
function streamInfo(info: Buffer): StreamInfo {
  return {
    minBlockSize: info.readUInt16BE(0),
    sampleRate: (info.readUInt32BE(10) >>> 12) & 0xfffff,
    channels: ((info[12]! >> 1) & 0x07) + 1,
    bitsPerSample: (((info[12]! & 0x01) << 4) | (info[13]! >> 4)) + 1,
    totalSamples: (info[13]! & 0x0f) * 2 ** 32 + info.readUInt32BE(14),
  };
}

/** Where the frames start: past every metadata block (a picture block can be megabytes), reading only headers. */
async function flacAudioStart(read: ReadAt, size: number, firstBlock: number): Promise<number> {
  let at = firstBlock;
  for (let count = 0; count < MAX_STRUCTURES; count += 1) {
    const header = await readExactly(read, at, 4, 'FLAC', 'metadata block header');
    at += 4 + header.readUIntBE(1, 3);
    if (at > size) throw corrupt('FLAC', 'a metadata block runs past the end of the file');
    if (header[0]! & 0x80) return at;
  }
  throw corrupt('FLAC', 'too many metadata blocks');
}

/**
 * The most bits a second of FLAC can take: every subframe stored verbatim (the side channel of a stereo pair has
 * one bit more), plus each frame's largest header (16 bytes), one subframe header per channel, a byte of padding and
 * the CRC-16, for frames of the smallest block size the stream declares (the format's minimum is 16 samples).
 * `framingBytes` adds what a container wraps around each frame.
 */
function flacCeiling(info: StreamInfo, framingBytes: number): number {
  const sampleBits = info.sampleRate * (info.channels * info.bitsPerSample + (info.channels === 2 ? 1 : 0));
  const framesPerSecond = info.sampleRate / Math.max(16, info.minBlockSize);
  return sampleBits + framesPerSecond * 8 * (16 + info.channels + 1 + 2 + framingBytes);
}

/** "ID3", a major version 2 to 4, and a size whose bytes all have the top bit clear (it is "synchsafe"). */
function isId3v2(head: Buffer): boolean {
  if (head.length < 10 || ascii(head, 0, 3) !== 'ID3') return false;
  return head[3]! >= 2 && head[3]! <= 4 && head.subarray(6, 10).every((byte) => byte < 0x80);
}

/** Size of an ID3v2 tag, header and footer included: the size field counts 7 bits per byte. */
function id3v2Size(head: Buffer): number {
  const size = (head[6]! << 21) | (head[7]! << 14) | (head[8]! << 7) | head[9]!;
  return 10 + size + (head[5]! & 0x10 ? 10 : 0);
}

const MP3_BITRATES = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
/** Layer III's highest bitrates, frame headers included: MPEG-1, and MPEG-2 and 2.5 (free format aside). */
const MP3_MAX_KBPS = { v1: 320, v2: 160 };
const MP3_SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};
/** Where a frame header might hide after an ID3 tag's padding before we call the content something else. */
const MP3_SYNC_CANDIDATES = 64;

interface Mp3Frame {
  version: number;
  sampleRate: number;
  bitrateKbps: number;
  samplesPerFrame: number;
  length: number;
  mono: boolean;
  crc: boolean;
}

/** Parses an MPEG-1/2/2.5 Layer III frame header, or undefined if these 4 bytes are not one. */
function mp3Frame(bytes: Buffer, at: number): Mp3Frame | undefined {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (bytes[at + 1]! >> 3) & 3;
  const layer = (bytes[at + 1]! >> 1) & 3;
  const bitrateIndex = bytes[at + 2]! >> 4;
  const rateIndex = (bytes[at + 2]! >> 2) & 3;
  // Free-format bitrate (index 0) has no computable frame length, so it cannot be checked against a second frame.
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const sampleRate = MP3_SAMPLE_RATES[version]![rateIndex]!;
  const bitrateKbps = (version === 3 ? MP3_BITRATES.v1 : MP3_BITRATES.v2)[bitrateIndex]!;
  const samplesPerFrame = version === 3 ? 1152 : 576;
  const padding = (bytes[at + 2]! >> 1) & 1;
  const length = Math.floor((samplesPerFrame / 8) * ((bitrateKbps * 1000) / sampleRate)) + padding;
  const mono = bytes[at + 3]! >> 6 === 3;
  return { version, sampleRate, bitrateKbps, samplesPerFrame, length, mono, crc: (bytes[at + 1]! & 1) === 0 };
}

/**
 * The first frame header at `start`, confirmed by a second one right after it: one valid-looking header is only 11
 * set bits and a few fields, which random bytes match often enough. After an ID3 tag (a signature already seen),
 * padding some taggers leave uncounted is skipped.
 */
async function firstMp3Frame(read: ReadAt, size: number, offset: number, start: Buffer, scan: boolean) {
  const last = scan ? Math.max(0, start.length - 4) : 0;
  for (let at = 0, tried = 0; at <= last && tried < MP3_SYNC_CANDIDATES; at += 1) {
    const frame = mp3Frame(start, at);
    if (!frame) continue;
    tried += 1;
    const nextAt = offset + at + frame.length;
    if (nextAt > size) continue;
    // A file of exactly one whole frame has nothing to confirm it with; it is too short to matter either way.
    if (nextAt + 4 > size) return { frame, at: offset + at };
    const next = mp3Frame(Buffer.from(await read(nextAt, 4)), 0);
    if (next && next.version === frame.version && next.sampleRate === frame.sampleRate) {
      return { frame, at: offset + at };
    }
  }
  return undefined;
}

async function probeMp3(read: ReadAt, size: number, offset: number, start: Buffer): Promise<AudioProbe> {
  const found = await firstMp3Frame(read, size, offset, start, offset > 0);
  if (!found) throw unrecognized();
  const { frame, at } = found;
  const audioBytes = size - at - (await id3v1Bytes(read, size, at));
  const frameBytes = Buffer.from(await read(at, frame.length));
  const frames = vbrFrameCount(frame, frameBytes);
  if (frames === undefined) return mp3Result(frame, (audioBytes * 8) / (frame.bitrateKbps * 1000), false);
  const durationSeconds = (frames.count * frame.samplesPerFrame) / frame.sampleRate;
  // A CBR estimate needs no such check: it divides the same bytes by a bitrate that is never above the ceiling.
  checkClaim('MP3', durationSeconds, audioBytes, MP3_MAX_KBPS[frame.version === 3 ? 'v1' : 'v2'] * 1000);
  return mp3Result(frame, durationSeconds, frames.variable);
}

/** The frame count a Xing, Info or VBRI header in the first frame states, if it has one. */
function vbrFrameCount(frame: Mp3Frame, frameBytes: Buffer): { count: number; variable: boolean } | undefined {
  // The Xing/Info tag sits after the side information (and the CRC, when the frame has one).
  const sideInfo = frame.version === 3 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xingAt = 4 + (frame.crc ? 2 : 0) + sideInfo;
  const tag = ascii(frameBytes, xingAt, 4);
  if (
    (tag === 'Xing' || tag === 'Info') &&
    frameBytes.length >= xingAt + 12 &&
    frameBytes.readUInt32BE(xingAt + 4) & 1
  ) {
    return { count: frameBytes.readUInt32BE(xingAt + 8), variable: tag === 'Xing' };
  }
  // Fraunhofer's VBRI header is always 32 bytes after the frame header.
  if (ascii(frameBytes, 36, 4) === 'VBRI' && frameBytes.length >= 36 + 18) {
    return { count: frameBytes.readUInt32BE(36 + 14), variable: true };
  }
  return undefined;
}

/** 128 if the file ends with an ID3v1 tag after `from`, where the audio starts: the tag is not audio. */
async function id3v1Bytes(read: ReadAt, size: number, from: number): Promise<number> {
  if (size - from < 128) return 0;
  return ascii(Buffer.from(await read(size - 128, 3)), 0, 3) === 'TAG' ? 128 : 0;
}

function mp3Result(frame: Mp3Frame, durationSeconds: number, variable: boolean): AudioProbe {
  return {
    format: 'mp3',
    durationSeconds,
    codec: `mp3 ${frame.sampleRate} Hz ${variable ? 'VBR' : `${frame.bitrateKbps} kbit/s`}`,
  };
}

async function probeOgg(read: ReadAt, size: number, head: Buffer): Promise<AudioProbe> {
  if (head.length < 28 || head[4] !== 0) throw corrupt('Ogg', 'bad first page header');
  const serial = head.readUInt32LE(14);
  const packetAt = 27 + head[26]!;
  if (head.length < packetAt + 19) throw corrupt('Ogg', 'truncated first page');
  const packet = head.subarray(packetAt);
  let codec: string;
  let rate: number;
  let preSkip = 0;
  let headerPackets: number;
  let ceiling: number;
  if (packet[0] === 1 && ascii(packet, 1, 6) === 'vorbis') {
    codec = 'vorbis';
    rate = packet.readUInt32LE(12);
    headerPackets = 3;
    // Vorbis states no ceiling; no encoder comes near uncompressed 16-bit PCM (libvorbis at its top quality, about
    // 500 kbit/s for 44.1 kHz stereo, spends a third of it).
    ceiling = rate * packet[11]! * 16;
  } else if (ascii(packet, 0, 8) === 'OpusHead') {
    codec = 'opus';
    // Opus counts granules at 48 kHz whatever the input rate; the first pre-skip samples are decoded and dropped
    // (RFC 7845 section 4.2), so they are not part of what plays.
    rate = 48000;
    preSkip = packet.readUInt16LE(10);
    headerPackets = 2;
    ceiling = OPUS_CEILING_PER_CHANNEL * packet[9]!;
  } else if (packet[0] === 0x7f && ascii(packet, 1, 4) === 'FLAC' && ascii(packet, 9, 4) === 'fLaC') {
    codec = 'flac';
    if (packet.length < 13 + 4 + 34) throw corrupt('Ogg', 'truncated FLAC header');
    const info = streamInfo(packet.subarray(13 + 4));
    rate = info.sampleRate;
    // The mapping header counts the metadata packets after it (0: unknown, then only the first is skipped).
    headerPackets = 1 + packet.readUInt16BE(7);
    // As if every frame had a page of its own: a page header and a lacing value.
    ceiling = flacCeiling(info, 28);
  } else {
    // Speex, Theora and the rest: an Ogg file, but not audio we take.
    throw unrecognized();
  }
  if (rate === 0) throw corrupt('Ogg', 'sample rate is 0');
  const { granule, ended } = await lastGranule(read, size, serial);
  // A stream that was closed may be empty; one cut off before its first audio page holds nothing to play.
  if (granule === 0 && !ended) throw corrupt('Ogg', 'the file ends before any audio');
  const durationSeconds = Math.max(0, granule - preSkip) / rate;
  checkClaim('Ogg', durationSeconds, size - (await oggAudioStart(read, size, serial, headerPackets)), ceiling);
  return { format: 'ogg', durationSeconds, codec: `${codec} ${rate} Hz` };
}

/** Header pages a real encoder writes, cover art in the comments included, are far fewer. */
const MAX_OGG_HEADER_PAGES = 256;

/**
 * Where the audio pages start: after the page that ends the codec's last header packet (Vorbis and Opus begin
 * their audio on a fresh page). Comments can carry megabytes of cover art, which is not audio; only page headers
 * are read to step over them.
 */
async function oggAudioStart(read: ReadAt, size: number, serial: number, headerPackets: number): Promise<number> {
  let packets = 0;
  let at = 0;
  for (let pages = 0; pages < MAX_OGG_HEADER_PAGES && at + 27 <= size; pages += 1) {
    const page = Buffer.from(await read(at, 27 + 255));
    if (page.length < 27 || ascii(page, 0, 4) !== 'OggS') throw corrupt('Ogg', 'a header page is broken');
    const segments = page[26]!;
    if (page.length < 27 + segments) throw corrupt('Ogg', 'truncated page header');
    const lacing = page.subarray(27, 27 + segments);
    at += 27 + segments + lacing.reduce((sum, lace) => sum + lace, 0);
    // A lacing value under 255 ends a packet.
    if (page.readUInt32LE(14) === serial) packets += lacing.filter((lace) => lace < 255).length;
    if (packets >= headerPackets) return Math.min(at, size);
  }
  throw corrupt('Ogg', at + 27 > size ? 'the file ends inside its headers' : 'the headers run over too many pages');
}

/**
 * The granule position (samples played so far) of the stream's last page, found from the end of the file. A
 * candidate must be a whole page with a valid checksum: "OggS" can occur inside compressed audio.
 */
async function lastGranule(read: ReadAt, size: number, serial: number): Promise<{ granule: number; ended: boolean }> {
  const from = Math.max(0, size - OGG_TAIL_BYTES);
  const tail = Buffer.from(await read(from, size - from));
  for (let at = tail.lastIndexOf('OggS'); at >= 0; at = at === 0 ? -1 : tail.lastIndexOf('OggS', at - 1)) {
    if (at + 27 > tail.length || tail[at + 4] !== 0 || tail.readUInt32LE(at + 14) !== serial) continue;
    const segments = tail[at + 26]!;
    if (at + 27 + segments > tail.length) continue;
    const end = at + 27 + segments + tail.subarray(at + 27, at + 27 + segments).reduce((sum, lace) => sum + lace, 0);
    if (end > tail.length || !oggChecksumMatches(tail.subarray(at, end))) continue;
    const granule = tail.readBigUInt64LE(at + 6);
    // All ones: no packet ends on this page.
    if (granule !== 0xffffffffffffffffn) return { granule: Number(granule), ended: (tail[at + 5]! & 0x04) !== 0 };
  }
  throw corrupt('Ogg', 'no final page with a position');
}

const OGG_CRC_TABLE = Array.from({ length: 256 }, (_, index) => {
  let crc = index << 24;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  return crc >>> 0;
});

/** Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, over the page with its checksum field zeroed (RFC 3533). */
function oggChecksumMatches(page: Buffer): boolean {
  let crc = 0;
  for (let index = 0; index < page.length; index += 1) {
    const byte = index >= 22 && index < 26 ? 0 : page[index]!;
    crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  }
  return crc === page.readUInt32LE(22);
}

interface Box {
  type: string;
  start: number;
  body: number;
  end: number;
}

/** HEIF and AVIF images share MP4's box structure and `ftyp`, but hold pictures. */
const IMAGE_BRANDS = new Set(['mif1', 'msf1', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'avif', 'avis', 'crx ']);

async function readBox(read: ReadAt, at: number, limit: number): Promise<Box> {
  const header = Buffer.from(await read(at, Math.min(16, limit - at)));
  if (header.length < 8) throw corrupt('M4A', 'truncated box header');
  const size32 = header.readUInt32BE(0);
  let size = size32;
  let body = at + 8;
  if (size32 === 1) {
    if (header.length < 16) throw corrupt('M4A', 'truncated box header');
    size = Number(header.readBigUInt64BE(8));
    body = at + 16;
  } else if (size32 === 0) {
    size = limit - at;
  }
  if (at + size > limit) throw corrupt('M4A', 'a box runs past the end of the file or its parent');
  if (at + size < body) throw corrupt('M4A', 'a box is smaller than its header');
  return { type: ascii(header, 4, 4), start: at, body, end: at + size };
}

/** The boxes directly inside `from`..`to`, reading only their headers. */
async function childBoxes(read: ReadAt, from: number, to: number): Promise<Box[]> {
  const boxes: Box[] = [];
  for (let at = from; at + 8 <= to; at = boxes[boxes.length - 1]!.end) {
    if (boxes.length >= MAX_STRUCTURES) throw corrupt('M4A', 'too many boxes');
    boxes.push(await readBox(read, at, to));
  }
  return boxes;
}

async function childBox(read: ReadAt, parent: Box, type: string): Promise<Box | undefined> {
  return (await childBoxes(read, parent.body, parent.end)).find((box) => box.type === type);
}

async function boxBody(read: ReadAt, box: Box | undefined, length: number, what: string): Promise<Buffer> {
  if (!box || box.end - box.body < length) throw corrupt('M4A', `missing or short ${what} box`);
  return readExactly(read, box.body, length, 'M4A', `${what} box`);
}

/** `mvhd` and `mdhd` share a layout: version 1 widens the times and the duration to 64 bits. */
async function timeHeader(
  read: ReadAt,
  box: Box | undefined,
  what: string,
): Promise<{ timescale: number; duration: number | undefined }> {
  const v1 = (await boxBody(read, box, 1, what))[0] === 1;
  const body = await boxBody(read, box, v1 ? 32 : 20, what);
  const timescale = body.readUInt32BE(v1 ? 20 : 12);
  const raw = v1 ? body.readBigUInt64BE(24) : BigInt(body.readUInt32BE(16));
  // All ones means "unknown", as a live or fragmented writer leaves it.
  const unknown = raw === (v1 ? 0xffffffffffffffffn : 0xffffffffn);
  return { timescale, duration: unknown ? undefined : Number(raw) };
}

interface AudioTrack {
  id: number;
  timescale: number;
  duration: number | undefined;
  codec: string;
  /** What the sample table gives the decoder, in bytes: the audio the movie's own index plays. */
  sampleBytes: number;
  /** The codec's highest bitrate for this track's rate and channels, in bits per second. */
  ceiling: number;
}

/** 64 Ki samples, minutes of any real audio track; a larger table is not read to learn one number. */
const MAX_SAMPLE_TABLE_BYTES = 256 * 1024;

const MP4_AUDIO_CODECS: Record<string, string> = {
  mp4a: 'aac',
  alac: 'alac',
  Opus: 'opus',
  fLaC: 'flac',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
  '.mp3': 'mp3',
  samr: 'amr_nb',
  sawb: 'amr_wb',
  ulaw: 'pcm_mulaw',
  alaw: 'pcm_alaw',
  lpcm: 'pcm',
  sowt: 'pcm_s16le',
  twos: 'pcm_s16be',
};

/** The first track whose handler is `soun`, with its clock and codec; undefined if the movie has no sound. */
async function audioTrack(read: ReadAt, moovChildren: Box[]): Promise<AudioTrack | undefined> {
  for (const trak of moovChildren.filter((box) => box.type === 'trak')) {
    const mdia = await childBox(read, trak, 'mdia');
    if (!mdia) continue;
    const mdiaChildren = await childBoxes(read, mdia.body, mdia.end);
    const hdlr = await boxBody(
      read,
      mdiaChildren.find((box) => box.type === 'hdlr'),
      12,
      'hdlr',
    );
    if (ascii(hdlr, 8, 4) !== 'soun') continue;
    const tkhd = await boxBody(read, await childBox(read, trak, 'tkhd'), 24, 'tkhd');
    const { timescale, duration } = await timeHeader(
      read,
      mdiaChildren.find((box) => box.type === 'mdhd'),
      'mdhd',
    );
    if (timescale === 0) throw corrupt('M4A', 'track timescale is 0');
    const minf = mdiaChildren.find((box) => box.type === 'minf');
    const stbl = minf && (await childBox(read, minf, 'stbl'));
    const stblChildren = stbl ? await childBoxes(read, stbl.body, stbl.end) : [];
    const stsdBox = stblChildren.find((box) => box.type === 'stsd');
    // stsd: version and flags, an entry count, then the first sample entry: its size, its codec's four letters, and
    // (for sound) its channel count at byte 24 and its sample rate as 16.16 fixed point at byte 32.
    const stsd = await boxBody(read, stsdBox, 8 + 36, 'stsd');
    const name = MP4_AUDIO_CODECS[ascii(stsd, 12, 4)] ?? 'mp4 audio';
    // QuickTime's version 2 sound description writes 1.0 and 3 channels there and keeps the real ones further on.
    const quickTimeV2 = stsd.readUInt16BE(8 + 16) === 2;
    const rate = (!quickTimeV2 && stsd.readUInt16BE(8 + 32)) || timescale;
    const channels = quickTimeV2
      ? (await boxBody(read, stsdBox, 8 + 52, 'stsd')).readUInt32BE(8 + 48)
      : stsd.readUInt16BE(8 + 24);
    return {
      id: tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12),
      timescale,
      duration,
      codec: `${name} ${rate} Hz`,
      sampleBytes: await sampleBytes(
        read,
        stblChildren.find((box) => box.type === 'stsz'),
      ),
      // ISO/IEC 14496-12 makes 2 the channel count's default; some writers leave it at 0.
      ceiling: mp4Ceiling(name, rate, channels || 2),
    };
  }
  return undefined;
}

/** The sum of the sample sizes in `stsz` (a sample table may point at the same bytes many times: each counts). */
async function sampleBytes(read: ReadAt, stsz: Box | undefined): Promise<number> {
  // Without one (`stz2`, or a fragmented file's empty table) there is nothing here to count.
  if (!stsz) return 0;
  const head = await boxBody(read, stsz, 12, 'stsz');
  const constantSize = head.readUInt32BE(4);
  const count = head.readUInt32BE(8);
  if (constantSize !== 0) return constantSize * count;
  if (count * 4 > MAX_SAMPLE_TABLE_BYTES) throw corrupt('M4A', 'the sample size table is too large to check');
  const table = await boxBody(read, stsz, 12 + count * 4, 'stsz');
  let total = 0;
  for (let at = 12; at < table.length; at += 4) total += table.readUInt32BE(at);
  return total;
}

/** The most bits a second of the track's codec can take. */
function mp4Ceiling(codec: string, rate: number, channels: number): number {
  // An AAC raw data block holds at most 6144 bits per channel (the decoder input buffer of ISO/IEC 13818-7 and
  // 14496-3) for its 1024 samples.
  if (codec === 'aac') return (6144 / 1024) * rate * channels;
  if (codec === 'opus') return OPUS_CEILING_PER_CHANNEL * channels;
  if (codec === 'mp3') return MP3_MAX_KBPS.v1 * 1000;
  return UNCOMPRESSED_CEILING_BITS * rate * channels;
}

async function probeMp4(read: ReadAt, size: number, head: Buffer): Promise<AudioProbe> {
  const ftypEnd = Math.min(head.readUInt32BE(0), head.length);
  const brands = [ascii(head, 8, 4)];
  for (let at = 16; at + 4 <= ftypEnd; at += 4) brands.push(ascii(head, at, 4));
  // The movie box may come first ("fast start") or after the media data; only box headers are read to find it.
  const topLevel = await childBoxes(read, 0, size);
  const moov = topLevel.find((box) => box.type === 'moov');
  if (!moov) {
    if (brands.some((brand) => IMAGE_BRANDS.has(brand))) throw unrecognized();
    throw corrupt('M4A', 'no moov box');
  }
  const moovChildren = await childBoxes(read, moov.body, moov.end);
  const movie = await timeHeader(
    read,
    moovChildren.find((box) => box.type === 'mvhd'),
    'mvhd',
  );
  if (movie.timescale === 0) throw corrupt('M4A', 'timescale is 0');
  // A video with no sound track is not audio we can transcribe; one with sound is accepted for its sound.
  const track = await audioTrack(read, moovChildren);
  if (!track) throw unrecognized();
  let durationSeconds = movie.duration === undefined ? undefined : movie.duration / movie.timescale;
  const fragments = topLevel.filter((box) => box.type === 'moof');
  if (fragments.length > 0) {
    // Fragmented files (browser recorders, streaming) announce little or nothing in the movie box: what plays
    // ends where the last fragment carrying the sound track ends.
    const mvex = moovChildren.find((box) => box.type === 'mvex');
    const end = await fragmentedEnd(read, { mvex, track, fragments, movieTimescale: movie.timescale });
    if (end !== undefined) durationSeconds = Math.max(durationSeconds ?? 0, end);
  }
  if (durationSeconds === undefined) throw corrupt('M4A', 'the movie does not state its length');
  // Fragments list their samples in their own headers, which are not all read: their media data is counted instead.
  const firstMoof = fragments[0]?.start ?? size;
  const fragmentBytes = topLevel
    .filter((box) => box.type === 'mdat' && box.start > firstMoof)
    .reduce((total, box) => total + box.end - box.body, 0);
  checkClaim('M4A', durationSeconds, track.sampleBytes + fragmentBytes, track.ceiling);
  return { format: 'm4a', durationSeconds, codec: track.codec };
}

/** Seconds at which the sound track's last fragment ends, or its declared length (`mehd`) if that cannot be told. */
async function fragmentedEnd(
  read: ReadAt,
  {
    mvex,
    track,
    fragments,
    movieTimescale,
  }: { mvex: Box | undefined; track: AudioTrack; fragments: Box[]; movieTimescale: number },
): Promise<number | undefined> {
  let defaultDuration: number | undefined;
  let declared: number | undefined;
  for (const box of mvex ? await childBoxes(read, mvex.body, mvex.end) : []) {
    if (box.type === 'trex') {
      const trex = await boxBody(read, box, 16, 'trex');
      if (trex.readUInt32BE(4) === track.id) defaultDuration = trex.readUInt32BE(12);
    } else if (box.type === 'mehd') {
      const mehd = await boxBody(read, box, 12, 'mehd');
      const units = mehd[0] === 1 ? Number(mehd.readBigUInt64BE(4)) : mehd.readUInt32BE(4);
      declared = units / movieTimescale;
    }
  }
  // Interleaved files may end on a video fragment; a few steps back finds the sound's last one.
  for (const moof of fragments.slice(-8).reverse()) {
    if (moof.end - moof.start > MAX_MOOF_BYTES) break;
    const start = fragments.length === 1 ? (track.duration ?? 0) : undefined;
    const bytes = await readExactly(read, moof.start, moof.end - moof.start, 'M4A', 'moof box');
    const units = trackFragmentEnd(bytes, moof.body - moof.start, {
      trackId: track.id,
      defaultDuration,
      start,
    });
    if (units !== undefined) return units / track.timescale;
  }
  return declared;
}

/**
 * Where one fragment's run of the track ends, in track time units: its start (`tfdt`, or `start` when the fragment
 * is the first and states none) plus its sample durations, from `trun`, `tfhd` or `trex` in that order
 * (ISO/IEC 14496-12 section 8.8).
 */
function trackFragmentEnd(
  moof: Buffer,
  bodyAt: number,
  options: { trackId: number; defaultDuration: number | undefined; start: number | undefined },
): number | undefined {
  for (const traf of bufferBoxes(moof, bodyAt).filter((box) => box.type === 'traf')) {
    const children = bufferBoxes(moof, traf.body, traf.end);
    const tfhd = children.find((box) => box.type === 'tfhd');
    if (!tfhd || tfhd.end - tfhd.body < 8 || moof.readUInt32BE(tfhd.body + 4) !== options.trackId) continue;
    const tfhdFlags = moof.readUInt32BE(tfhd.body) & 0xffffff;
    // Optional fields come in flag order: base data offset (8 bytes), sample description index (4), then duration.
    const durationAt = tfhd.body + 8 + (tfhdFlags & 0x01 ? 8 : 0) + (tfhdFlags & 0x02 ? 4 : 0);
    const defaultDuration =
      tfhdFlags & 0x08 && durationAt + 4 <= tfhd.end ? moof.readUInt32BE(durationAt) : options.defaultDuration;
    const tfdt = children.find((box) => box.type === 'tfdt');
    let end: number | undefined = options.start;
    if (tfdt && tfdt.end - tfdt.body >= (moof[tfdt.body] === 1 ? 12 : 8)) {
      end = moof[tfdt.body] === 1 ? Number(moof.readBigUInt64BE(tfdt.body + 4)) : moof.readUInt32BE(tfdt.body + 4);
    }
    if (end === undefined) return undefined;
    for (const trun of children.filter((box) => box.type === 'trun')) {
      if (trun.end - trun.body < 8) throw corrupt('M4A', 'truncated trun box');
      const flags = moof.readUInt32BE(trun.body) & 0xffffff;
      const count = moof.readUInt32BE(trun.body + 4);
      if (!(flags & 0x100)) {
        if (defaultDuration === undefined) return undefined;
        end += count * defaultDuration;
        continue;
      }
      const entrySize = 4 * [0x100, 0x200, 0x400, 0x800].filter((flag) => flags & flag).length;
      let at = trun.body + 8 + (flags & 0x01 ? 4 : 0) + (flags & 0x04 ? 4 : 0);
      if (at + count * entrySize > trun.end) throw corrupt('M4A', 'truncated trun box');
      for (let sample = 0; sample < count; sample += 1, at += entrySize) end += moof.readUInt32BE(at);
    }
    return end;
  }
  return undefined;
}

/** Boxes inside an in-memory slice, for the few small boxes read whole. */
function bufferBoxes(bytes: Buffer, from: number, to = bytes.length): Box[] {
  const boxes: Box[] = [];
  for (let at = from; at + 8 <= to && boxes.length < MAX_STRUCTURES;) {
    const size32 = bytes.readUInt32BE(at);
    const wide = size32 === 1 && at + 16 <= to;
    const body = at + (wide ? 16 : 8);
    const end = size32 === 0 ? to : at + (wide ? Number(bytes.readBigUInt64BE(at + 8)) : size32);
    if (end < body) throw corrupt('M4A', 'a box is smaller than its header');
    if (end > to) throw corrupt('M4A', 'a box runs past its parent');
    boxes.push({ type: ascii(bytes, at + 4, 4), start: at, body, end });
    at = end;
  }
  return boxes;
}
