import { spawn, execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pcm16Wav } from '../bench/wav-file';
import { freePort } from '../src/process/free-port';
import { wordErrorRate } from './word-error-rate';

/**
 * `npm run eval`: how accurately the whole service transcribes real speech with the local engine. Builds an
 * evaluation set with espeak-ng (sentences in eight formats, three voices and rates, and longer recordings cut
 * into chunks mid-sentence), runs it through `npm start`'s service (real API, workflow, engine) and prints the
 * word error rate per format, per voice and overall, what stitching does at chunk boundaries, and the engine's
 * real-time factor.
 */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.tools', 'asr-venv', 'bin', 'python');
const ENCODER = path.join(ROOT, 'eval', 'encode_audio.py');
const CHUNK_SECONDS = 10;

interface Format {
  name: string;
  extension: string;
  codec: string;
  rate: number;
  channels: number;
}

const FORMATS: Format[] = [
  { name: 'WAV 16-bit 16 kHz mono', extension: 'wav', codec: 'pcm_s16le', rate: 16_000, channels: 1 },
  { name: 'WAV 24-bit 44.1 kHz stereo', extension: 'wav', codec: 'pcm_s24le', rate: 44_100, channels: 2 },
  { name: 'WAV float 8 kHz mono', extension: 'wav', codec: 'pcm_f32le', rate: 8000, channels: 1 },
  { name: 'FLAC 22.05 kHz mono', extension: 'flac', codec: 'flac', rate: 22_050, channels: 1 },
  { name: 'MP3 44.1 kHz stereo', extension: 'mp3', codec: 'libmp3lame', rate: 44_100, channels: 2 },
  { name: 'Ogg Vorbis 44.1 kHz stereo', extension: 'ogg', codec: 'vorbis', rate: 44_100, channels: 2 },
  { name: 'Ogg Opus 48 kHz mono', extension: 'opus', codec: 'libopus', rate: 48_000, channels: 1 },
  { name: 'M4A AAC 44.1 kHz stereo', extension: 'm4a', codec: 'aac', rate: 44_100, channels: 2 },
];

/** espeak-ng voices and speaking rates (words per minute), taken in turn. */
const VOICES = [
  { voice: 'en-us', rate: 175 },
  { voice: 'en', rate: 150 },
  { voice: 'en-us+f3', rate: 200 },
];

interface Sample {
  file: string;
  reference: string;
  format: string;
  voice: string;
}

async function speak(text: string, voice: { voice: string; rate: number }, wavFile: string): Promise<void> {
  await run('espeak-ng', ['-v', voice.voice, '-s', String(voice.rate), '-w', wavFile, text]);
}

async function encode(source: string, target: string, format: Format): Promise<void> {
  await run(PYTHON, [ENCODER, source, target, format.codec, String(format.rate), String(format.channels)]);
}

/** The 16-bit mono PCM of a WAV espeak-ng wrote, and its rate. */
function readPcm(wav: Buffer): { rate: number; samples: Buffer } {
  let offset = 12;
  let rate = 0;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('ascii', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    if (id === 'fmt ') rate = wav.readUInt32LE(offset + 12);
    if (id === 'data') return { rate, samples: wav.subarray(offset + 8, Math.min(wav.length, offset + 8 + size)) };
    offset += 8 + size + (size % 2);
  }
  throw new Error('no data chunk in the WAV espeak-ng wrote');
}

async function buildSet(audioRoot: string, scratch: string) {
  const sentences = (await readFile(path.join(ROOT, 'eval', 'sentences.txt'), 'utf8')).trim().split('\n');
  const samples: Sample[] = [];
  for (const [index, sentence] of sentences.entries()) {
    for (const [formatIndex, format] of FORMATS.entries()) {
      const voice = VOICES[(index + formatIndex) % VOICES.length] as (typeof VOICES)[number];
      const spoken = path.join(scratch, `sentence-${index}-${voice.voice}.wav`);
      await speak(sentence, voice, spoken);
      const file = `sentences/${index}-${formatIndex}.${format.extension}`;
      await mkdir(path.join(audioRoot, 'sentences'), { recursive: true });
      await encode(spoken, path.join(audioRoot, file), format);
      samples.push({ file, reference: sentence, format: format.name, voice: `${voice.voice} at ${voice.rate} wpm` });
    }
  }
  const paragraphs = (await readFile(path.join(ROOT, 'eval', 'recordings.txt'), 'utf8')).trim().split(/\n\s*\n/);
  const recordings = [];
  for (const [index, text] of paragraphs.entries()) {
    const spoken = path.join(scratch, `recording-${index}.wav`);
    await speak(text, VOICES[0] as (typeof VOICES)[number], spoken);
    const { rate, samples: pcm } = readPcm(await readFile(spoken));
    const folder = `recordings/${index}`;
    await mkdir(path.join(audioRoot, folder), { recursive: true });
    const whole = `${folder}/whole.wav`;
    await writeFile(path.join(audioRoot, whole), pcm16Wav(rate, pcm));
    const chunkBytes = CHUNK_SECONDS * rate * 2;
    const chunks = [];
    for (let start = 0, part = 0; start < pcm.length; start += chunkBytes, part += 1) {
      const chunk = `${folder}/part-${part}.wav`;
      await writeFile(path.join(audioRoot, chunk), pcm16Wav(rate, pcm.subarray(start, start + chunkBytes)));
      chunks.push(chunk);
    }
    recordings.push({ text, whole, chunks, seconds: pcm.length / 2 / rate });
  }
  return { samples, recordings };
}

/** Starts `npm start`'s launcher on free ports with its local engine; resolves with the API, the key and the engine. */
async function startService(dataDir: string, audioRoot: string) {
  const launcher = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'launcher', 'main.js')], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      AUDIO_ROOT: audioRoot,
      PORT: String(await freePort()),
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      ASR_ENGINE: 'local',
      MAX_JOBS_IN_FLIGHT_PER_USER: '1000',
      RATE_LIMIT_PER_SECOND: '1000',
      RATE_LIMIT_BURST: '1000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const banner = await new Promise<string>((resolve, reject) => {
    launcher.stdout.on('data', (data: Buffer) => {
      output += data.toString('utf8');
      if (output.includes('Ctrl-C stops everything')) resolve(output);
    });
    launcher.once('exit', (code) => reject(new Error(`npm start exited (code ${code}):\n${output}`)));
  });
  const api = /Transcription API\s+(\S+)/.exec(banner)?.[1];
  const engine = /ASR\s+(\S+)/.exec(banner)?.[1];
  const key = /API key alice \(user\)\s+(\S+)/.exec(banner)?.[1];
  if (!api || !engine || !key) throw new Error(`unexpected banner:\n${banner}`);
  return { launcher, api, engine, key };
}

async function transcribeJob(api: string, key: string, chunks: string[]): Promise<{ text: string; parts: string[] }> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const submitted = await fetch(`${api}/transcribe`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ audioChunkPaths: chunks }),
  });
  const { jobId } = (await submitted.json()) as { jobId?: string };
  if (!jobId) throw new Error(`submit answered ${submitted.status}`);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const job = (await (await fetch(`${api}/transcript/${jobId}`, { headers })).json()) as {
      jobStatus: string;
      transcription: string | null;
      failureReason: string | null;
      chunks: { transcript: string | null }[];
    };
    if (job.jobStatus === 'in_progress') continue;
    if (job.jobStatus !== 'completed') throw new Error(`job ${jobId} ${job.jobStatus}: ${job.failureReason}`);
    return { text: job.transcription ?? '', parts: job.chunks.map((chunk) => chunk.transcript ?? '') };
  }
}

function percent({ errors, words }: { errors: number; words: number }): string {
  return `${((errors / Math.max(1, words)) * 100).toFixed(1)}%`;
}

function table(title: string, rows: Map<string, { errors: number; words: number }>): string[] {
  return [
    `| ${title} | words | errors | WER |`,
    '| --- | --- | --- | --- |',
    ...[...rows.entries()].map(
      ([name, { errors, words }]) => `| ${name} | ${words} | ${errors} | ${percent({ errors, words })} |`,
    ),
    '',
  ];
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asr-eval-'));
  const audioRoot = path.join(dir, 'audio');
  const scratch = path.join(dir, 'spoken');
  await mkdir(scratch, { recursive: true });
  process.stdout.write('building the evaluation set with espeak-ng…\n');
  const { samples, recordings } = await buildSet(audioRoot, scratch);
  process.stdout.write(`${samples.length} sentence files, ${recordings.length} recordings; starting the service…\n`);
  const service = await startService(path.join(dir, 'data'), audioRoot);
  try {
    const started = Date.now();
    const byFormat = new Map<string, { errors: number; words: number }>();
    const byVoice = new Map<string, { errors: number; words: number }>();
    const add = (rows: typeof byFormat, key: string, score: { errors: number; words: number }) => {
      const row = rows.get(key) ?? { errors: 0, words: 0 };
      rows.set(key, { errors: row.errors + score.errors, words: row.words + score.words });
    };
    await Promise.all(
      samples.map(async (sample) => {
        const { text } = await transcribeJob(service.api, service.key, [sample.file]);
        const score = wordErrorRate(sample.reference, text);
        add(byFormat, sample.format, score);
        add(byVoice, sample.voice, score);
      }),
    );
    const overall = [...byFormat.values()].reduce((sum, row) => ({
      errors: sum.errors + row.errors,
      words: sum.words + row.words,
    }));

    const lines = [
      '',
      `Whole service (API, workflow, local engine), ${samples.length} one-chunk jobs in ${((Date.now() - started) / 1000).toFixed(0)} s:`,
      '',
      ...table('format', byFormat),
      ...table('voice', byVoice),
      `Overall: ${overall.words} words, ${overall.errors} errors, WER ${percent(overall)}.`,
      '',
      `Recordings cut every ${CHUNK_SECONDS} s, mid-sentence, against the same recording as one chunk:`,
      '',
      '| recording | seconds | chunks | WER as one chunk | WER stitched from chunks |',
      '| --- | --- | --- | --- | --- |',
    ];
    const junctions: string[] = [];
    for (const [index, recording] of recordings.entries()) {
      const whole = await transcribeJob(service.api, service.key, [recording.whole]);
      const chunked = await transcribeJob(service.api, service.key, recording.chunks);
      lines.push(
        `| ${index + 1} | ${recording.seconds.toFixed(0)} | ${recording.chunks.length} | ${percent(wordErrorRate(recording.text, whole.text))} | ${percent(wordErrorRate(recording.text, chunked.text))} |`,
      );
      for (let part = 0; part + 1 < chunked.parts.length; part += 1) {
        const before = (chunked.parts[part] ?? '').split(' ').slice(-4).join(' ');
        const after = (chunked.parts[part + 1] ?? '').split(' ').slice(0, 4).join(' ');
        junctions.push(`  recording ${index + 1}, after ${(part + 1) * CHUNK_SECONDS} s: …${before} | ${after}…`);
      }
    }
    lines.push('', 'What each chunk boundary became (end of one chunk | start of the next):', ...junctions, '');

    const timing = [];
    for (const recording of recordings) {
      const form = new FormData();
      form.append('file', new Blob([await readFile(path.join(audioRoot, recording.whole))]), 'whole.wav');
      form.append('response_format', 'verbose_json');
      const reply = (await (
        await fetch(`${service.engine}/v1/audio/transcriptions`, { method: 'POST', body: form })
      ).json()) as {
        duration: number;
        processing_seconds: number;
      };
      timing.push(reply);
    }
    const audioSeconds = timing.reduce((sum, entry) => sum + entry.duration, 0);
    const busySeconds = timing.reduce((sum, entry) => sum + entry.processing_seconds, 0);
    lines.push(
      `Real-time factor of the engine alone on the ${recordings.length} whole recordings (${audioSeconds.toFixed(0)} s of speech, ${os.cpus().length} cores): ${(busySeconds / audioSeconds).toFixed(3)} (${busySeconds.toFixed(1)} s of work).`,
      '',
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    service.launcher.kill('SIGTERM');
    await new Promise((resolve) => service.launcher.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
