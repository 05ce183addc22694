import { existsSync } from 'node:fs';
import path from 'node:path';
import { spawnGuarded } from '../process/guarded-process';

export interface LocalEngineOptions {
  /** Where `npm run setup` installed the engine's Python environment (`<toolsDir>/asr-venv`). */
  toolsDir: string;
  /** 0 lets the engine bind a free port itself and say which in its ready line. */
  port: number;
  /** Transcriptions at once, and how many more may wait; beyond that the engine answers 503. */
  concurrency: number;
  queue: number;
  /** CPU threads each transcription uses. */
  threads: number;
  maxChunkSeconds: number;
  startupTimeoutMs: number;
  onOutput?: (line: string) => void;
}

export interface LocalEngine {
  url: string;
  /** Resolves when the engine process exits, whoever stopped it. */
  exited: Promise<number | null>;
  /** The Python server's own pid (not its shell guard's). */
  pid: number;
  stop(): Promise<void>;
}

/** asr-engine/server.py at the project's root, found from here whether this runs compiled (dist/) or not. */
function serverScript(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'asr-engine', 'server.py');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`asr-engine/server.py not found above ${__dirname}`);
}

/** The Python interpreter of the engine's environment inside the project's tools folder. */
export function localEnginePython(toolsDir: string): string {
  return path.join(toolsDir, 'asr-venv', 'bin', 'python');
}

/** Starts `asr-engine/server.py` (faster-whisper, tiny.en) on loopback and waits until it has loaded its model. */
export async function startLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const args = [
    serverScript(),
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--concurrency',
    String(options.concurrency),
    '--queue',
    String(options.queue),
    '--threads',
    String(options.threads),
    '--max-seconds',
    String(options.maxChunkSeconds),
  ];
  let announce!: (ready: { url: string; pid: number }) => void;
  const announced = new Promise<{ url: string; pid: number }>((resolve) => (announce = resolve));
  const engine = spawnGuarded('asr-engine', localEnginePython(options.toolsDir), ['-u', ...args], (line, stream) => {
    try {
      const message = JSON.parse(line) as { ready?: boolean; url?: string; pid?: number };
      if (stream === 'stdout' && message.ready && message.url && message.pid) {
        announce({ url: message.url, pid: message.pid });
        return;
      }
    } catch {
      // not the ready line: ordinary output
    }
    options.onOutput?.(line);
  });
  const diedFirst = engine.exited.then((code) => {
    throw new Error(`the local ASR engine exited before it was ready (code ${code}):\n${engine.recentOutput()}`);
  });
  // Raced only until the engine is ready; its later exit is the supervisor's business.
  diedFirst.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the local ASR engine was not ready within ${options.startupTimeoutMs} ms`)),
      options.startupTimeoutMs,
    );
  });
  try {
    const { url, pid } = await Promise.race([announced, diedFirst, timeout]);
    return { url, exited: engine.exited, pid, stop: () => engine.stop() };
  } catch (err) {
    await engine.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Restarts within this window beyond which the engine is given up on. */
const RESTART_WINDOW_MS = 60_000;
const MAX_RESTARTS_IN_WINDOW = 5;

/**
 * Runs the local engine and starts it again, on the port of its first start, whenever it dies: a chunk whose call
 * it dropped is retried by the worker and finds the engine back at the URL the worker was given. Gives up (and says
 * so through `onGiveUp`) after five restarts in a minute, when something is wrong that restarting does not fix.
 */
export async function superviseLocalEngine(
  options: LocalEngineOptions & {
    onRestart: (code: number | null) => void;
    onGiveUp: (reason: string) => void;
  },
): Promise<{ url: string; pid(): number; stop(): Promise<void> }> {
  let engine = await startLocalEngine(options);
  const port = Number(new URL(engine.url).port);
  let stopping = false;
  let restarts: number[] = [];
  const watch = (current: LocalEngine): void => {
    void current.exited.then(async (code) => {
      if (stopping) return;
      await current.stop();
      const now = Date.now();
      restarts = restarts.filter((at) => now - at < RESTART_WINDOW_MS);
      if (restarts.length >= MAX_RESTARTS_IN_WINDOW) {
        options.onGiveUp(`it exited ${restarts.length + 1} times within a minute (last code ${code})`);
        return;
      }
      restarts.push(now);
      options.onRestart(code);
      try {
        engine = await startLocalEngine({ ...options, port });
        watch(engine);
      } catch (err) {
        options.onGiveUp(err instanceof Error ? err.message : String(err));
      }
    });
  };
  watch(engine);
  return {
    url: engine.url,
    pid: () => engine.pid,
    stop: async () => {
      stopping = true;
      await engine.stop();
    },
  };
}
