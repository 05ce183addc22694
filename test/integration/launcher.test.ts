import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import path from 'node:path';
import { tempDir, writeChunk } from '../support/temp-dir';
import { PROJECT_ROOT, freePort, pollUntil } from '../support/service-stack';

/** `npm start`'s entry point, as a user runs it: dev server, simulator, worker and API under one launcher. */
function startLauncher(env: NodeJS.ProcessEnv): {
  launcher: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
} {
  const launcher = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    launcher.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ctrl-C stops everything')) resolve();
    });
    launcher.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`launcher exited (${code}) before it was ready:\n${output}`)));
  });
  return { launcher, ready, exited, output: () => output };
}

/** The development user key the banner prints. */
function bannerKey(output: string): string {
  const key = /API key alice \(user\)\s+(\S+)/.exec(output)?.[1];
  if (!key) throw new Error(`no API key in the banner:\n${output}`);
  return key;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('npm start', () => {
  it('when the launcher is SIGKILLed mid-job and started again, then nothing is left running, the job finishes and stays readable', async () => {
    const dataDir = await tempDir('launcher');
    const audioRoot = path.join(dataDir, 'audio');
    for (let index = 1; index <= 3; index += 1) {
      await writeChunk(audioRoot, `rec/part-${index}.wav`, { transcript: `sentence ${index}` });
    }
    const [apiPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      ASR_ENGINE: 'simulator',
      ASR_SIM_LATENCY_MS: '3000-4000',
      CHUNK_HEARTBEAT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'error',
    };
    const api = `http://127.0.0.1:${apiPort}`;

    const first = startLauncher(env);
    await first.ready;
    const key = bannerKey(first.output());
    const auth = { authorization: `Bearer ${key}` };
    expect((await fetch(`${api}/transcript/search?jobStatus=completed`)).status).toBe(401);
    const submitted = await fetch(`${api}/transcribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ audioChunkPaths: ['rec/part-1.wav', 'rec/part-2.wav', 'rec/part-3.wav'] }),
    });
    const { jobId } = (await submitted.json()) as { jobId: string };
    const running = (await (await fetch(`${api}/transcript/${jobId}`, { headers: auth })).json()) as {
      jobStatus: string;
    };
    expect(running.jobStatus).toBe('in_progress');

    first.launcher.kill('SIGKILL');
    await first.exited;
    // Its children notice the launcher is gone and stop, the dev server included, freeing every port.
    await pollUntil(
      async () => (await Promise.all([apiPort, temporalPort, uiPort].map(portIsFree))).every(Boolean),
      (free) => free,
      30_000,
    );

    const second = startLauncher(env);
    try {
      await second.ready;
      // The same development key works across restarts: it was made once, on the first start.
      expect(bannerKey(second.output())).toBe(key);
      const job = await pollUntil(
        async () =>
          (await (await fetch(`${api}/transcript/${jobId}`, { headers: auth })).json()) as {
            jobStatus: string;
            transcription: string;
          },
        (reply) => reply.jobStatus !== 'in_progress',
        90_000,
      );
      expect(job).toMatchObject({
        userId: 'alice',
        jobStatus: 'completed',
        transcription: 'sentence 1 sentence 2 sentence 3',
      });
      expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
    } finally {
      second.launcher.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
    expect(await portIsFree(temporalPort)).toBe(true);
  });
});
