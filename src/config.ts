import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting of the service, read once from the environment and validated at start-up. Each entry is the
 * variable's name, its meaning (the README's configuration table is checked against these) and its schema.
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const latencyRange = z
  .string()
  .default('5000-10000')
  .transform((value, ctx) => {
    const match = /^(\d+)\s*-\s*(\d+)$/.exec(value.trim());
    if (!match || Number(match[1]) > Number(match[2])) {
      ctx.addIssue({ code: 'custom', message: 'expected "min-max" in milliseconds, min <= max, e.g. "5000-10000"' });
      return z.NEVER;
    }
    return { minMs: Number(match[1]), maxMs: Number(match[2]) };
  });

const regex = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a valid regular expression' });
    return z.NEVER;
  }
});

const url = optionalString.refine((value) => value === undefined || URL.canParse(value), 'not a valid URL');

export const CONFIG_VARIABLES = {
  HOST: { doc: 'Address the API listens on.', schema: z.string().default('127.0.0.1') },
  PORT: { doc: 'Port of the API (0 picks a free one).', schema: port(3000) },
  LOG_LEVEL: {
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  DATA_DIR: { doc: 'Where the embedded dev server keeps its database.', schema: z.string().default('./data') },
  AUDIO_ROOT: {
    doc: 'Folder audio chunk paths are relative to; nothing outside it is read. Default: `$DATA_DIR/audio`.',
    schema: optionalString,
  },
  MAX_CHUNK_BYTES: { doc: 'Largest audio chunk accepted, in bytes.', schema: positiveInt(5 * 1024 * 1024) },
  MAX_CHUNKS_PER_JOB: { doc: 'Most audio chunks in one job.', schema: positiveInt(24) },
  TEMPORAL_ADDRESS: {
    doc: 'Temporal frontend `host:port`. Unset: `npm start` runs the embedded dev server, and the API and worker connect to it on 127.0.0.1:$TEMPORAL_PORT.',
    schema: optionalString,
  },
  TEMPORAL_NAMESPACE: { doc: 'Temporal namespace.', schema: z.string().min(1).default('default') },
  TEMPORAL_TASK_QUEUE: {
    doc: 'Task queue of the transcription worker.',
    schema: z.string().min(1).default('transcription'),
  },
  TEMPORAL_PORT: { doc: 'gRPC port of the embedded dev server.', schema: port(7233) },
  TEMPORAL_UI_PORT: { doc: 'Web UI port of the embedded dev server.', schema: port(8233) },
  TEMPORAL_RETENTION_DAYS: {
    doc: 'How long finished jobs stay readable; set on the namespace at start-up.',
    schema: positiveInt(30),
  },
  TEMPORAL_STARTUP_TIMEOUT_MS: {
    doc: 'How long to wait for Temporal to answer at start-up.',
    schema: positiveInt(60_000),
  },
  TEMPORAL_TOOLS_DIR: {
    doc: 'Where `npm run setup` installed the pinned Temporal binaries.',
    schema: z.string().default('./.tools'),
  },
  ASR_URL: {
    doc: 'Base URL of an OpenAI-compatible ASR (`POST {ASR_URL}/v1/audio/transcriptions`). Unset: `npm start` runs the ASR simulator.',
    schema: url,
  },
  ASR_API_KEY: { doc: 'Bearer token sent to the ASR, if it needs one.', schema: optionalString },
  ASR_MODEL: { doc: 'The `model` field sent to the ASR.', schema: z.string().min(1).default('whisper-1') },
  ASR_TIMEOUT_MS: { doc: 'Timeout of one ASR call; a timed-out call is retried.', schema: positiveInt(60_000) },
  ASR_SIM_PORT: { doc: 'Port of the ASR simulator (0 picks a free one).', schema: port(0) },
  ASR_SIM_LATENCY_MS: { doc: 'Simulator latency, uniform in "min-max" milliseconds.', schema: latencyRange },
  ASR_SIM_FAILURE_RATE: {
    doc: 'Share of simulator calls answered with a transient 503, 0 to 1.',
    schema: z.coerce.number().min(0).max(1).default(0),
  },
  ASR_SIM_FAIL_PATTERN: {
    doc: 'Regex: the simulator always answers 500 for files whose path matches it.',
    schema: regex,
  },
  CHUNK_MAX_ATTEMPTS: { doc: 'ASR attempts per chunk, the first included.', schema: positiveInt(3) },
  CHUNK_RETRY_INITIAL_INTERVAL_MS: { doc: 'Backoff before the second attempt.', schema: positiveInt(1000) },
  CHUNK_RETRY_BACKOFF_COEFFICIENT: {
    doc: 'Each further backoff is the previous one times this.',
    schema: z.coerce.number().min(1).default(2),
  },
  CHUNK_RETRY_MAX_INTERVAL_MS: { doc: 'Longest backoff between attempts.', schema: positiveInt(30_000) },
  CHUNK_HEARTBEAT_TIMEOUT_MS: {
    doc: 'A chunk whose worker stops heartbeating for this long is retried elsewhere.',
    schema: positiveInt(5000),
  },
  WORKER_MAX_CONCURRENT_ACTIVITIES: {
    doc: 'Chunks one worker transcribes at once (they wait on the ASR, so this can be high).',
    schema: positiveInt(1000),
  },
  API_QUERY_TIMEOUT_MS: {
    doc: "How long `GET /transcript/{jobId}` waits for a running job's live state before answering from its history.",
    schema: positiveInt(3000),
  },
} as const;

type Variables = typeof CONFIG_VARIABLES;
type Parsed = { [K in keyof Variables]: z.output<Variables[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseVariables(env: NodeJS.ProcessEnv): Parsed {
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(CONFIG_VARIABLES)) {
    const raw = env[name];
    const result = variable.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) parsed[name] = result.data;
    else
      problems.push(`${name}=${JSON.stringify(raw)}: ${result.error.issues.map((issue) => issue.message).join(', ')}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as Parsed;
}

/** Reads and validates the configuration; throws a {@link ConfigError} naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const v = parseVariables(env);
  const dataDir = path.resolve(v.DATA_DIR);
  const config = {
    api: { host: v.HOST, port: v.PORT, queryTimeoutMs: v.API_QUERY_TIMEOUT_MS },
    logLevel: v.LOG_LEVEL,
    dataDir,
    audio: {
      root: path.resolve(v.AUDIO_ROOT ?? path.join(dataDir, 'audio')),
      maxChunkBytes: v.MAX_CHUNK_BYTES,
      maxChunksPerJob: v.MAX_CHUNKS_PER_JOB,
    },
    temporal: {
      address: v.TEMPORAL_ADDRESS ?? `127.0.0.1:${v.TEMPORAL_PORT}`,
      embedded: v.TEMPORAL_ADDRESS === undefined,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.TEMPORAL_TASK_QUEUE,
      devServerPort: v.TEMPORAL_PORT,
      devServerUiPort: v.TEMPORAL_UI_PORT,
      retentionDays: v.TEMPORAL_RETENTION_DAYS,
      startupTimeoutMs: v.TEMPORAL_STARTUP_TIMEOUT_MS,
      toolsDir: path.resolve(v.TEMPORAL_TOOLS_DIR),
    },
    asr: {
      url: v.ASR_URL,
      apiKey: v.ASR_API_KEY,
      model: v.ASR_MODEL,
      timeoutMs: v.ASR_TIMEOUT_MS,
    },
    asrSimulator: {
      port: v.ASR_SIM_PORT,
      latency: v.ASR_SIM_LATENCY_MS,
      failureRate: v.ASR_SIM_FAILURE_RATE,
      failPattern: v.ASR_SIM_FAIL_PATTERN,
    },
    chunkRetry: {
      maximumAttempts: v.CHUNK_MAX_ATTEMPTS,
      initialIntervalMs: v.CHUNK_RETRY_INITIAL_INTERVAL_MS,
      backoffCoefficient: v.CHUNK_RETRY_BACKOFF_COEFFICIENT,
      maximumIntervalMs: v.CHUNK_RETRY_MAX_INTERVAL_MS,
    },
    chunkTimeouts: {
      // An attempt may take the whole ASR timeout plus reading the file; the heartbeat catches dead workers sooner.
      startToCloseMs: v.ASR_TIMEOUT_MS + 10_000,
      heartbeatMs: v.CHUNK_HEARTBEAT_TIMEOUT_MS,
    },
    worker: { maxConcurrentActivities: v.WORKER_MAX_CONCURRENT_ACTIVITIES },
  };
  return deepFreeze(config);
}

export type Config = ReturnType<typeof loadConfig>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
