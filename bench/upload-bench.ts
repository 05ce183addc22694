import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateEncryptionKey } from '../src/codec/encryption-keys';
import { freePort } from '../src/process/free-port';
import { stopChild } from '../src/process/process-lifecycle';
import { s3ServiceEnv, startS3Proxy, type S3Proxy } from '../src/storage/s3proxy';
import { startDevServer } from '../src/temporal/dev-server';
import { sampleProcess } from './process-usage';
import { summarize } from './stats';
import { pcm16Wav } from './wav-file';

const ROOT = path.resolve(__dirname, '..', '..');
const FILE_BYTES = 5 * 1024 * 1024;
const BIG_FILE_BYTES = 50 * 1024 * 1024;
const ROUNDS = 10;
const SAMPLE_EVERY_MS = 10;

interface UploadFigures {
  store: string;
  fileMb: number;
  body: 'raw' | 'multipart';
  mbPerSecond: { p50: number; min: number };
  ms: { p50: number; max: number };
  /** The API's resident memory before the uploads, and its peak while they streamed. */
  rssMb: { before: number; peak: number };
}

/**
 * `npm run bench:upload`: a 5 MB WAV uploaded ten times to a real API process over loopback, as a raw body and as a
 * form, on the local store and on s3proxy, then a 50 MB one under a raised limit. Prints each upload's throughput
 * and the API's peak resident memory while the uploads streamed, sampled from /proc every 10 ms: were uploads held
 * whole in memory, the 50 MB row's peak would stand about 45 MB above the 5 MB rows'.
 */
async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'transcription-upload-bench-'));
  const devServer = await startDevServer({
    toolsDir: path.join(ROOT, '.tools'),
    dbFilename: path.join(dir, 'temporal.sqlite'),
    port: await freePort(),
    namespace: 'default',
    startupTimeoutMs: 120_000,
  });
  let s3: S3Proxy | undefined;
  const figures: UploadFigures[] = [];
  try {
    s3 = await startS3Proxy({
      toolsDir: path.join(ROOT, '.tools'),
      basedir: path.join(dir, 's3'),
      port: 0,
      bucket: 'bench',
    });
    const key = `bench_${randomBytes(12).toString('hex')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dir,
      API_KEYS: `${key}:bencher:user`,
      PAYLOAD_ENCRYPTION_KEYS: generateEncryptionKey('bench'),
      TEMPORAL_ADDRESS: devServer.address,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_SECOND: '1000',
      RATE_LIMIT_BURST: '1000',
    };
    for (const [store, storeEnv] of [
      ['local', {}],
      ['s3 (s3proxy)', s3ServiceEnv(s3)],
    ] as const) {
      const api = await startApi({ ...env, ...storeEnv, PORT: String(await freePort()) });
      try {
        for (const body of ['raw', 'multipart'] as const) {
          figures.push(await measure(api, key, { store, body, fileBytes: FILE_BYTES }));
        }
      } finally {
        await stopChild(api.child);
      }
    }
    // Ten times the file under a raised limit: if the API held uploads whole, its peak would grow by as much.
    const big = await startApi({
      ...env,
      PORT: String(await freePort()),
      MAX_CHUNK_BYTES: String(BIG_FILE_BYTES * 2),
      MAX_CHUNK_SECONDS: '7200',
    });
    try {
      figures.push(await measure(big, key, { store: 'local', body: 'raw', fileBytes: BIG_FILE_BYTES }));
    } finally {
      await stopChild(big.child);
    }
  } finally {
    await s3?.stop();
    await devServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`uploads, ${ROUNDS} per row, over loopback (${os.cpus().length} cores)\n`);
  process.stdout.write('store         file     body       MB/s p50  MB/s min  ms p50  ms max  API RSS before  peak\n');
  for (const row of figures) {
    process.stdout.write(
      `${row.store.padEnd(13)} ${`${row.fileMb.toFixed(1)} MB`.padEnd(8)} ${row.body.padEnd(10)} ${row.mbPerSecond.p50.toFixed(1).padStart(8)}  ${row.mbPerSecond.min
        .toFixed(1)
        .padStart(8)}  ${row.ms.p50.toFixed(0).padStart(6)}  ${row.ms.max.toFixed(0).padStart(6)}  ${row.rssMb.before
        .toFixed(1)
        .padStart(11)} MB  ${row.rssMb.peak.toFixed(1)} MB\n`,
    );
  }
}

async function startApi(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(ROOT, 'dist', 'src', 'api', 'main.js'), [], {
    env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type === 'ready' && message.url) resolve(message.url);
    });
    child.once('exit', (code) => reject(new Error(`the API exited before it was ready (code ${code})`)));
  });
  return { child, url };
}

async function measure(
  api: { child: ChildProcess; url: string },
  key: string,
  { store, body, fileBytes }: { store: string; body: 'raw' | 'multipart'; fileBytes: number },
): Promise<UploadFigures> {
  // 16 kHz 16-bit mono: 5 MB is 164 s, inside the 300 s limit.
  const file = pcm16Wav(16_000, randomBytes(fileBytes - 1024 - 44));
  const pid = api.child.pid as number;
  // One upload first, so the peak below is the streaming's and not the first request's set-up.
  await upload(api.url, key, file, body);
  const before = (await sampleProcess(pid))?.rssBytes ?? 0;
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await sampleProcess(pid))?.rssBytes ?? 0);
      await sleep(SAMPLE_EVERY_MS);
    }
  })();
  const durations: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) durations.push(await upload(api.url, key, file, body));
  sampling = false;
  await sampler;
  const ms = summarize(durations);
  const rates = durations.map((duration) => file.length / 1e6 / (duration / 1000));
  return {
    store,
    fileMb: file.length / 1e6,
    body,
    mbPerSecond: { p50: summarize(rates).p50, min: Math.min(...rates) },
    ms: { p50: ms.p50, max: Math.max(...durations) },
    rssMb: { before: before / 1e6, peak: peak / 1e6 },
  };
}

async function upload(url: string, key: string, file: Buffer, body: 'raw' | 'multipart'): Promise<number> {
  const form = new FormData();
  form.append('file', new Blob([file]), 'bench.wav');
  const started = performance.now();
  const response = await fetch(`${url}/audio${body === 'raw' ? '?name=bench.wav' : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, ...(body === 'raw' ? { 'content-type': 'audio/wav' } : {}) },
    body: body === 'raw' ? file : form,
  });
  await response.text();
  if (response.status !== 201) throw new Error(`upload answered ${response.status}`);
  return performance.now() - started;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
