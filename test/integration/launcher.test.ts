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
  const launcher = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'launcher', 'main.js')], {
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

/** Starts of the launcher, each on fresh ports, before losing one of them to another process fails the test. */
const PORT_ATTEMPTS = 3;

/**
 * The launcher with the API on port 0 (the banner says where it listens) and the dev server on free ports of the
 * test's choosing, so the test knows them all. Those two are a user's settings, which the launcher never changes:
 * a start that lost one of them to another process is tried again here, on fresh ones.
 */
async function startLauncherOnFreePorts(env: NodeJS.ProcessEnv) {
  for (let attempt = 1; ; attempt++) {
    const ports = { temporal: await freePort(), ui: await freePort() };
    const started = startLauncher({
      ...env,
      PORT: '0',
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
    });
    try {
      await started.ready;
    } catch (err) {
      if (!/address already in use/i.test(started.output()) || attempt >= PORT_ATTEMPTS) throw err;
      process.stderr.write(`launcher test: a port was taken before the launcher bound it; starting it again\n`);
      continue;
    }
    const apiUrl = /Transcription API\s+(\S+)/.exec(started.output())?.[1];
    if (!apiUrl) throw new Error(`no API address in the banner:\n${started.output()}`);
    return { ...started, ports, apiUrl };
  }
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
    // alice's audio space: the banner's key is hers.
    const aliceSpace = path.join(dataDir, 'audio', 'alice');
    for (let index = 1; index <= 3; index += 1) {
      await writeChunk(aliceSpace, `rec/part-${index}.wav`, { transcript: `sentence ${index}` });
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      ASR_ENGINE: 'simulator',
      ASR_SIM_LATENCY_MS: '3000-4000',
      CHUNK_HEARTBEAT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'error',
    };

    const first = await startLauncherOnFreePorts(env);
    const api = first.apiUrl;
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
    const firstPorts = [Number(new URL(api).port), first.ports.temporal, first.ports.ui];
    await pollUntil(
      async () => (await Promise.all(firstPorts.map(portIsFree))).every(Boolean),
      (free) => free,
      30_000,
    );

    const second = await startLauncherOnFreePorts(env);
    try {
      // The same development key works across restarts: it was made once, on the first start.
      expect(bannerKey(second.output())).toBe(key);
      const job = await pollUntil(
        async () =>
          (await (await fetch(`${second.apiUrl}/transcript/${jobId}`, { headers: auth })).json()) as {
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
      expect((await fetch(`http://127.0.0.1:${second.ports.ui}/`)).status).toBe(200);
    } finally {
      second.launcher.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
    expect(await portIsFree(second.ports.temporal)).toBe(true);
  });
});
