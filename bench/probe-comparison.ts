import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileReader, probeAudio } from '../src/audio/audio-probe';
import {
  flacClaiming,
  flacWithPicture,
  m4aClaiming,
  m4aReusingItsSamples,
  oggClaiming,
  opusWithLargeComments,
  silentFlac,
  silentMp3,
} from '../test/fixtures/audio/hostile-audio';
import { wavBytes } from './wav-file';

/**
 * `npm run probe:compare`: the service's own audio probe (src/audio/audio-probe.ts) against music-metadata and
 * against the FFmpeg the local engine decodes with, on every audio fixture and on hostile files built here. For
 * each file and each of them: the duration reported (or the refusal), the time taken and the bytes read; the
 * decoded duration, from FFmpeg decoding every frame, is the truth they are judged by. Prints a Markdown table
 * and a summary per parser (docs/audio-probe.md holds a run of it).
 */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.tools', 'asr-venv', 'bin', 'python');
const FFMPEG_SCRIPT = path.join(ROOT, 'bench', 'probe_ffmpeg.py');
const FIXTURE_DIRS = ['audio', 'speech'].map((name) => path.join(ROOT, 'test', 'fixtures', name));
const AUDIO_EXTENSIONS = new Set(['.wav', '.flac', '.mp3', '.ogg', '.opus', '.m4a', '.mp4']);
/** Runs per file and parser; the median is reported, so one slow run (a cold cache, a collection) does not count. */
const RUNS = 5;

interface Case {
  name: string;
  file: string;
  /** What makes the file hostile, for the table. */
  note: string;
  /**
   * The engine plays it in full and its length can be told, so refusing it is wrong; undefined for the fixtures,
   * where it is judged from FFmpeg: their headers agree with what they play.
   */
  mustAccept?: boolean;
}

/** One parser's answer on one file. */
interface Answer {
  seconds?: number;
  error?: string;
  ms: number;
  bytes: number;
}

interface FfmpegAnswer {
  path: string;
  header_seconds?: number | null;
  error?: string;
  open_ms: number;
  open_bytes: number;
  decoded_seconds?: number;
}

/** Deterministic noise, so that a run can be repeated byte for byte. */
function noise(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0, state = 12345; index < length; index += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

function mp4Box(type: string, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + content.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, content]);
}

const M4A_FTYP = mp4Box('ftyp', Buffer.from('M4A \0\0\0\0M4A isom', 'latin1'));

/** `depth` `trak` boxes, each the only child of the one before. */
function nestedBoxes(depth: number): Buffer {
  const nested = Buffer.alloc(8 * depth);
  for (let level = 0; level < depth; level += 1) {
    nested.writeUInt32BE(8 * (depth - level), 8 * level);
    nested.write('trak', 8 * level + 4, 'latin1');
  }
  return nested;
}

async function hostileFiles(dir: string): Promise<Case[]> {
  const audio = (name: string) => readFile(path.join(FIXTURE_DIRS[0]!, name));
  const speech = (name: string) => readFile(path.join(FIXTURE_DIRS[1]!, name));
  const half = async (bytes: Promise<Buffer>) => {
    const whole = await bytes;
    return whole.subarray(0, Math.floor(whole.length / 2));
  };
  const mvhd = mp4Box('mvhd', Buffer.alloc(100));
  mvhd.writeUInt32BE(1000, 8 + 12);
  const hugeBox = Buffer.alloc(16);
  hugeBox.writeUInt32BE(1, 0);
  hugeBox.write('mdat', 4, 'latin1');
  hugeBox.writeBigUInt64BE(2n ** 40n, 8);
  const byteRateLie = wavBytes({ seconds: 60 });
  byteRateLie.writeUInt32LE(8000 * 2 * 100, 28);
  const megabyte = 1_000_000;
  const built: [string, string, Buffer | Promise<Buffer>, boolean?][] = [
    ['xing-lie-5MB.mp3', 'Xing header counts 1 frame of 69 444', silentMp3({ bytes: 5 * megabyte, claimedFrames: 1 })],
    [
      'vbri-lie-5MB.mp3',
      'VBRI header counts 1 frame of 69 444',
      silentMp3({ bytes: 5 * megabyte, claimedFrames: 1, header: 'vbri' }),
    ],
    ['xing-honest-5MB.mp3', 'honest: 83 minutes of frames, all counted', silentMp3({ bytes: 5 * megabyte }), true],
    [
      'cbr-loud-first-frame.mp3',
      'no header; first frame 160 kbit/s, the rest 8',
      silentMp3({ bytes: 5 * megabyte, header: 'none', loudFirstFrame: true }),
    ],
    ['streaminfo-lie.flac', 'STREAMINFO states 0.1 s of a 2 s tone', flacClaiming(await audio('tone.flac'), 1600)],
    [
      'silence-25h-claims-2s.flac',
      'STREAMINFO states 2 s of 25 h of silence',
      silentFlac({ seconds: 92_000, claimedSeconds: 2 }),
    ],
    [
      'silence-25h-claims-200s.flac',
      'STREAMINFO states 200 s of 25 h of silence',
      silentFlac({ seconds: 92_000, claimedSeconds: 200 }),
    ],
    ['granule-lie.opus', 'last page states 1 s of 57 s of speech', oggClaiming(await speech('harbor.opus'), 48_312n)],
    ['header-lie.m4a', 'mvhd, tkhd, mdhd state 0.01 s of a 2 s tone', m4aClaiming(await audio('tone.m4a'), 0.01)],
    ['reused-samples.m4a', 'sample table plays its 2 s 100 times', m4aReusingItsSamples(await audio('tone.m4a'), 100)],
    ['byte-rate-lie.wav', 'PCM whose byte rate is 100× what its samples take', byteRateLie, true],
    ['cover-art-1MB.flac', 'honest: 1 MB PICTURE block', flacWithPicture(await audio('tone.flac'), megabyte), true],
    [
      'comments-1MB.opus',
      'honest: 1 MB comment header',
      opusWithLargeComments(await audio('tone.opus'), megabyte),
      true,
    ],
    ['truncated-half.wav', 'first half of fox-s16-16k-mono.wav', half(speech('fox-s16-16k-mono.wav'))],
    ['truncated-half.flac', 'first half of fox.flac', half(speech('fox.flac'))],
    ['truncated-half.mp3', 'first half of fox.mp3', half(speech('fox.mp3'))],
    ['truncated-half.opus', 'first half of harbor.opus', half(speech('harbor.opus'))],
    ['truncated-half.m4a', 'first half of fox.m4a', half(speech('fox.m4a'))],
    [
      'noise-after-riff.wav',
      '"RIFF….WAVE", then 1 MB of noise',
      Buffer.concat([Buffer.from('RIFF\xff\xff\xff\x7fWAVE', 'latin1'), noise(megabyte)]),
    ],
    [
      'noise-after-flac.flac',
      '"fLaC", then 1 MB of noise',
      Buffer.concat([Buffer.from('fLaC', 'latin1'), noise(megabyte)]),
    ],
    [
      'noise-after-oggs.ogg',
      '"OggS", then 1 MB of noise',
      Buffer.concat([Buffer.from('OggS', 'latin1'), noise(megabyte)]),
    ],
    ['noise-after-ftyp.m4a', 'ftyp box, then 1 MB of noise', Buffer.concat([M4A_FTYP, noise(megabyte)])],
    [
      'noise-after-id3.mp3',
      'empty ID3v2 tag, then 1 MB of noise',
      Buffer.concat([Buffer.from('494433040000000000', 'hex'), noise(megabyte)]),
    ],
    [
      'noise-after-sync.mp3',
      'one MP3 frame header, then 1 MB of noise',
      Buffer.concat([Buffer.from('fffb9000', 'hex'), noise(megabyte)]),
    ],
    ['huge-box.m4a', 'an mdat box claiming 1 TB', Buffer.concat([M4A_FTYP, hugeBox, Buffer.alloc(1000)])],
    [
      'nested-boxes.m4a',
      '100 000 nested trak boxes',
      Buffer.concat([M4A_FTYP, mp4Box('moov', mvhd, nestedBoxes(100_000))]),
    ],
    [
      'garbage-after.mp3',
      'tone-vbr-xing.mp3, then 5 MB of noise',
      Buffer.concat([await audio('tone-vbr-xing.mp3'), noise(5 * megabyte)]),
    ],
    [
      'garbage-after.flac',
      'tone.flac, then 5 MB of noise',
      Buffer.concat([await audio('tone.flac'), noise(5 * megabyte)]),
    ],
    [
      'garbage-after.ogg',
      'tone.ogg, then 5 MB of noise',
      Buffer.concat([await audio('tone.ogg'), noise(5 * megabyte)]),
    ],
    [
      'garbage-after.m4a',
      'tone-faststart.m4a, then 5 MB of noise',
      Buffer.concat([await audio('tone-faststart.m4a'), noise(5 * megabyte)]),
    ],
    [
      'garbage-after.wav',
      'tone-s16-mono-16k.wav, then 5 MB of noise',
      Buffer.concat([await audio('tone-s16-mono-16k.wav'), noise(5 * megabyte)]),
    ],
  ];
  const cases: Case[] = [];
  for (const [name, note, bytes, mustAccept] of built) {
    const file = path.join(dir, name);
    await writeFile(file, await bytes);
    cases.push({ name, file, note, mustAccept: mustAccept ?? false });
  }
  return cases;
}

async function fixtureFiles(): Promise<Case[]> {
  const cases: Case[] = [];
  for (const dir of FIXTURE_DIRS) {
    for (const name of (await readdir(dir)).sort()) {
      if (!AUDIO_EXTENSIONS.has(path.extname(name))) continue;
      cases.push({ name: `${path.basename(dir)}/${name}`, file: path.join(dir, name), note: 'fixture' });
    }
  }
  return cases;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function describeError(err: unknown): string {
  if (err instanceof Error && err.name === 'AudioProbeError') {
    return (err as Error & { kind: string }).kind;
  }
  return err instanceof Error ? err.name : String(err);
}

/** Bytes read so far by the parser being measured. */
let bytesRead = 0;

/** Times `attempt` over {@link RUNS} runs; the answer and the bytes read are the first run's. */
async function timed(attempt: () => Promise<number | undefined>): Promise<Answer> {
  let first: Answer | undefined;
  const times: number[] = [];
  for (let index = 0; index < RUNS; index += 1) {
    bytesRead = 0;
    const started = performance.now();
    let answer: { seconds?: number; error?: string };
    try {
      answer = { seconds: await attempt() };
    } catch (err) {
      answer = { error: describeError(err) };
    }
    times.push(performance.now() - started);
    first ??= { ...answer, ms: 0, bytes: bytesRead };
  }
  return { ...first!, ms: median(times) };
}

/** Our probe, through a reader that counts what it hands back. */
async function ours(file: string): Promise<Answer> {
  return timed(async () => {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const read = fileReader(handle, size);
      const probe = await probeAudio(async (offset, length) => {
        const bytes = await read(offset, length);
        bytesRead += bytes.length;
        return bytes;
      }, size);
      return probe.durationSeconds;
    } finally {
      await handle.close();
    }
  });
}

/**
 * Counts what FileHandles read while `run` runs: music-metadata reads through strtok3's FileTokenizer, which calls
 * `FileHandle.read`, and offers no hook of its own.
 */
async function countingFileHandleReads<T>(run: () => Promise<T>): Promise<T> {
  const handle = await open(__filename, 'r');
  const prototype = Object.getPrototypeOf(handle) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
  await handle.close();
  const original = prototype.read;
  prototype.read = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    bytesRead += result.bytesRead;
    return result;
  };
  try {
    return await run();
  } finally {
    prototype.read = original;
  }
}

async function musicMetadata(file: string, options: { duration: boolean }): Promise<Answer> {
  // ESM-only: loaded with a dynamic import, which the CommonJS build keeps as one.
  const { parseFile } = await import('music-metadata');
  return countingFileHandleReads(() =>
    timed(async () => (await parseFile(file, { duration: options.duration, skipCovers: true })).format.duration),
  );
}

async function ffmpeg(files: string[]): Promise<Map<string, FfmpegAnswer>> {
  const { stdout } = await run(PYTHON, [FFMPEG_SCRIPT, ...files], { maxBuffer: 64 * 1024 * 1024 });
  const answers = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as FfmpegAnswer);
  return new Map(answers.map((answer) => [answer.path, answer]));
}

type Verdict = 'right' | 'refused' | 'short' | 'long' | 'false refusal' | 'accepted unplayable';

/** Whether a file's length can be told and the engine plays it: its headers, as FFmpeg reads them, agree with it. */
function honestFixture(truth: FfmpegAnswer): boolean {
  const played = truth.decoded_seconds;
  const header = truth.header_seconds;
  return played !== undefined && played > 0 && header !== undefined && header !== null && close(header, played);
}

function close(seconds: number, played: number): boolean {
  return Math.abs(seconds - played) <= Math.max(0.1, 0.05 * played);
}

/**
 * Judges an answer against what FFmpeg decodes. Refusing is right unless the file must be accepted; accepting a
 * duration shorter than what plays is the failure that matters, since the length limit is then enforced on a lie.
 */
function verdict(answer: { seconds?: number; error?: string }, truth: FfmpegAnswer, mustAccept: boolean): Verdict {
  const played = truth.decoded_seconds;
  if (answer.error !== undefined || answer.seconds === undefined) return mustAccept ? 'false refusal' : 'refused';
  if (played === undefined || (played === 0 && answer.seconds > 0)) return 'accepted unplayable';
  if (close(answer.seconds, played)) return 'right';
  return answer.seconds < played ? 'short' : 'long';
}

const MARK: Record<Verdict, string> = {
  right: '✓',
  refused: '✓ refused',
  short: '✗ SHORT',
  long: '~ long',
  'false refusal': '✗ refused',
  'accepted unplayable': '✗ accepted',
};

function seconds(value: number | undefined | null): string {
  if (value === undefined || value === null) return '–';
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

function cell(answer: { seconds?: number; error?: string }, ms: number, bytes: number, judged: Verdict): string {
  const what = answer.error !== undefined ? answer.error : `${seconds(answer.seconds)} s`;
  return `${what} ${MARK[judged]} · ${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms · ${size(bytes)}`;
}

interface Tally {
  right: number;
  refusedLies: number;
  short: number;
  long: number;
  falseRefusals: number;
  acceptedUnplayable: number;
  maxMs: number;
  maxBytes: number;
  maxShare: number;
}

function tally(): Tally {
  return {
    right: 0,
    refusedLies: 0,
    short: 0,
    long: 0,
    falseRefusals: 0,
    acceptedUnplayable: 0,
    maxMs: 0,
    maxBytes: 0,
    maxShare: 0,
  };
}

function count(into: Tally, judged: Verdict, ms: number, bytes: number, fileBytes: number): void {
  const key = {
    right: 'right',
    refused: 'refusedLies',
    short: 'short',
    long: 'long',
    'false refusal': 'falseRefusals',
    'accepted unplayable': 'acceptedUnplayable',
  } as const;
  into[key[judged]] += 1;
  into.maxMs = Math.max(into.maxMs, ms);
  into.maxBytes = Math.max(into.maxBytes, bytes);
  if (fileBytes > 256 * 1024) into.maxShare = Math.max(into.maxShare, bytes / fileBytes);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'probe-comparison-'));
  try {
    const cases = [...(await fixtureFiles()), ...(await hostileFiles(dir))];
    process.stdout.write(`${cases.length} files; decoding each with FFmpeg for the truth…\n`);
    const truths = await ffmpeg(cases.map((one) => one.file));
    const parsers = ['ours', 'music-metadata', 'music-metadata duration:true', 'FFmpeg (open)'] as const;
    const tallies = new Map(parsers.map((parser) => [parser, tally()]));
    const rows: string[] = [];
    for (const one of cases) {
      const truth = truths.get(one.file)!;
      const fileBytes = (await stat(one.file)).size;
      const answers: Record<(typeof parsers)[number], Answer> = {
        ours: await ours(one.file),
        'music-metadata': await musicMetadata(one.file, { duration: false }),
        'music-metadata duration:true': await musicMetadata(one.file, { duration: true }),
        'FFmpeg (open)': {
          seconds: truth.header_seconds ?? undefined,
          error: truth.error?.split(':')[0],
          ms: truth.open_ms,
          bytes: truth.open_bytes,
        },
      };
      const mustAccept = one.mustAccept ?? honestFixture(truth);
      const cells = parsers.map((parser) => {
        const answer = answers[parser];
        const judged = verdict(answer, truth, mustAccept);
        count(tallies.get(parser)!, judged, answer.ms, answer.bytes, fileBytes);
        return cell(answer, answer.ms, answer.bytes, judged);
      });
      const played = truth.decoded_seconds === undefined ? 'undecodable' : `${seconds(truth.decoded_seconds)} s`;
      const label = one.note === 'fixture' ? one.name : `${one.name} (${one.note})`;
      rows.push(`| ${label} | ${size(fileBytes)} | ${played} | ${cells.join(' | ')} |`);
      process.stdout.write('.');
    }
    process.stdout.write('\n\n');
    const lines = [
      `| file | size | decoded (truth) | ${parsers.join(' | ')} |`,
      `| --- | --- | --- | ${parsers.map(() => '---').join(' | ')} |`,
      ...rows,
      '',
      '| parser | right | refused (lying or broken) | too short (lie believed) | too long | honest files refused | unplayable accepted | slowest | most bytes read | most of a file over 256 KB read |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...parsers.map((parser) => {
        const t = tallies.get(parser)!;
        return (
          `| ${parser} | ${t.right} | ${t.refusedLies} | ${t.short} | ${t.long} | ${t.falseRefusals} | ` +
          `${t.acceptedUnplayable} | ${t.maxMs.toFixed(1)} ms | ${size(t.maxBytes)} | ${(t.maxShare * 100).toFixed(0)}% |`
        );
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
