import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseAllowListEntry } from './callbacks/callback-url-policy';

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

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .optional()
    .transform((value) => (value === undefined ? fallback : value === 'true' || value === '1'));

const callbackAllowList = optionalString.transform((value, ctx) => {
  if (value === undefined) return [];
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    try {
      parseAllowListEntry(entry);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }
  return entries;
});

const AUTH_METHODS = ['api-key', 'jwt', 'none'] as const;
const authMethods = z
  .string()
  .default('api-key')
  .transform((value, ctx) => {
    const methods = [...new Set(value.split(',').map((method) => method.trim()))];
    const unknown = methods.filter((method) => !(AUTH_METHODS as readonly string[]).includes(method));
    if (unknown.length > 0 || methods.length === 0) {
      ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${AUTH_METHODS.join(', ')}` });
      return z.NEVER;
    }
    if (methods.includes('none') && methods.length > 1) {
      ctx.addIssue({ code: 'custom', message: '"none" cannot be combined with other methods' });
      return z.NEVER;
    }
    return methods as (typeof AUTH_METHODS)[number][];
  });

const originList = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const origins = value.split(',').map((origin) => origin.trim());
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like http://host:port` });
      return z.NEVER;
    }
  }
  return origins;
});

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
  MAX_CHUNK_SECONDS: { doc: 'Longest audio chunk accepted, in seconds.', schema: positiveInt(300) },
  AUTH_METHODS: {
    doc: 'Credentials the API accepts: `api-key`, `jwt`, or both comma-separated; `none` turns authentication off and is refused unless HOST is a loopback address.',
    schema: authMethods,
  },
  API_KEYS: {
    doc: 'Development API keys, `key:userId:role` comma-separated (role `user` or `operator`). Production uses API_KEYS_FILE.',
    schema: optionalString,
    secret: true,
  },
  API_KEYS_FILE: {
    doc: 'File of hashed API keys, one `sha256:<hex> <userId> <role>` per line (`npm run api-key` makes them). Default: `$DATA_DIR/api-keys.txt`, which `npm start` creates with development keys on first start.',
    schema: optionalString,
  },
  JWT_HS256_SECRET: { doc: 'Secret of HS256 bearer tokens (at least 32 bytes).', schema: optionalString, secret: true },
  JWT_JWKS_FILE: { doc: 'JWKS file with the RS256/ES256 public keys of bearer tokens.', schema: optionalString },
  JWT_ISSUER: { doc: 'Required `iss` of bearer tokens.', schema: optionalString },
  JWT_AUDIENCE: { doc: 'Required `aud` of bearer tokens.', schema: optionalString },
  JWT_USER_ID_CLAIM: { doc: "Token claim holding the caller's user id.", schema: z.string().min(1).default('sub') },
  JWT_ROLE_CLAIM: {
    doc: 'Token claim holding the role: `operator`, or an array containing it; anything else is `user`.',
    schema: z.string().min(1).default('role'),
  },
  PAYLOAD_ENCRYPTION_KEYS: {
    doc: 'AES-256-GCM keys for job data stored in Temporal, `keyId:base64key` comma-separated; the first encrypts, all decrypt.',
    schema: optionalString,
    secret: true,
  },
  PAYLOAD_ENCRYPTION_KEYS_FILE: {
    doc: 'File holding the same list, used when PAYLOAD_ENCRYPTION_KEYS is unset. Default: `$DATA_DIR/payload-encryption-keys`, which `npm start` creates on first start.',
    schema: optionalString,
  },
  CODEC_CORS_ORIGINS: {
    doc: "Origins (the Web UI's) allowed to call the codec endpoint from a browser, comma-separated. Default: the embedded Web UI on 127.0.0.1 and localhost.",
    schema: originList,
  },
  MAX_REQUEST_BODY_BYTES: { doc: 'Largest request body accepted.', schema: positiveInt(64 * 1024) },
  MAX_HEADER_BYTES: { doc: 'Largest total size of request headers accepted.', schema: positiveInt(16 * 1024) },
  RATE_LIMIT_PER_SECOND: {
    doc: 'Requests per second one user may make to one API process, sustained.',
    schema: positiveInt(20),
  },
  RATE_LIMIT_BURST: {
    doc: 'Requests one user may make at once before the rate limit applies.',
    schema: positiveInt(40),
  },
  CALLBACK_URL_ALLOWLIST: {
    doc: 'Origins job callbacks may be sent to, comma-separated (`https://hooks.example.com`, `https://*.example.com` for its subdomains). Unset: `callbackUrl` is refused.',
    schema: callbackAllowList,
  },
  CALLBACK_SIGNING_SECRET: {
    doc: 'Secret (at least 32 characters) of the HMAC-SHA256 signature on every callback; required with CALLBACK_URL_ALLOWLIST.',
    schema: optionalString.refine(
      (value) => value === undefined || value.length >= 32,
      'must be at least 32 characters',
    ),
    secret: true,
  },
  CALLBACK_MAX_ATTEMPTS: {
    doc: 'Attempts to deliver one callback, backoff 5 s doubling up to 5 minutes between them (10 attempts span about 25 minutes).',
    schema: positiveInt(10),
  },
  CALLBACK_TIMEOUT_MS: {
    doc: 'How long one callback attempt waits for the receiver to answer.',
    schema: positiveInt(10_000),
  },
  MAX_JOBS_IN_FLIGHT_PER_USER: { doc: 'Jobs one user may have in progress at once.', schema: positiveInt(20) },
  ASR_BACKLOG_LIMIT: {
    doc: 'Chunks waiting for a worker beyond which new jobs are refused with 503 until the backlog drains.',
    schema: positiveInt(2000),
  },
  TEMPORAL_ADDRESS: {
    doc: 'Temporal frontend `host:port`. Unset: `npm start` runs the embedded dev server, and the API and worker connect to it on 127.0.0.1:$TEMPORAL_PORT.',
    schema: optionalString,
  },
  TEMPORAL_NAMESPACE: { doc: 'Temporal namespace.', schema: z.string().min(1).default('default') },
  TEMPORAL_TASK_QUEUE: {
    doc: 'Task queue of the transcription worker.',
    schema: z.string().min(1).default('transcription'),
  },
  TEMPORAL_TLS: {
    doc: "Connect to Temporal over TLS, verifying the server's certificate against the system's CAs or TEMPORAL_TLS_CA_FILE. Implied by the other TEMPORAL_TLS_* variables and by TEMPORAL_API_KEY.",
    schema: flag(false),
  },
  TEMPORAL_TLS_CA_FILE: {
    doc: "PEM file of the CA that signed the Temporal server's certificate, when the system does not trust it.",
    schema: optionalString,
  },
  TEMPORAL_TLS_CERT_FILE: {
    doc: "PEM file of this process's client certificate, for mutual TLS; needs TEMPORAL_TLS_KEY_FILE.",
    schema: optionalString,
  },
  TEMPORAL_TLS_KEY_FILE: {
    doc: 'PEM file of the private key of TEMPORAL_TLS_CERT_FILE.',
    schema: optionalString,
  },
  TEMPORAL_TLS_SERVER_NAME: {
    doc: "Name to check the server's certificate against (and send as SNI), when it is not the host of TEMPORAL_ADDRESS.",
    schema: optionalString,
  },
  TEMPORAL_API_KEY: {
    doc: 'API key sent to Temporal (Temporal Cloud API-key authentication); implies TLS.',
    schema: optionalString,
    secret: true,
  },
  TEMPORAL_PREPARE_NAMESPACE: {
    doc: 'Register the search attributes and set the retention on the namespace at start-up. `false` where operators prepare it themselves (Temporal Cloud; the production compose): the processes then only check that the search attributes exist.',
    schema: flag(true),
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
    doc: 'Where `npm run setup` installed the pinned tools: the Temporal binaries and the local ASR engine.',
    schema: z.string().default('./.tools'),
  },
  ASR_URL: {
    doc: 'Base URL of an OpenAI-compatible ASR (`POST {ASR_URL}/v1/audio/transcriptions`). Unset: `npm start` runs the ASR that `ASR_ENGINE` names.',
    schema: url,
  },
  ASR_ENGINE: {
    doc: 'The ASR `npm start` runs when `ASR_URL` is unset: `local` (offline Whisper tiny.en, real text) or `simulator` (5-10 s, made-up text; for benchmarks and fault tests).',
    schema: z.enum(['local', 'simulator']).default('local'),
  },
  ASR_ENGINE_PORT: {
    doc: 'Port of the local ASR engine (0 picks a free one, kept across its restarts).',
    schema: port(0),
  },
  ASR_ENGINE_CONCURRENCY: {
    doc: 'Transcriptions the local engine runs at once; `npm start` also makes it the default of ASR_MAX_CONCURRENT_CALLS.',
    schema: positiveInt(1),
  },
  ASR_ENGINE_QUEUE: {
    doc: 'Transcriptions that may wait in the local engine beyond those; past that it answers 503 (retried).',
    schema: z.coerce.number().int().min(0).default(2),
  },
  ASR_ENGINE_THREADS: {
    doc: 'CPU threads each local transcription uses (default: all cores).',
    schema: positiveInt(availableParallelism()),
  },
  ASR_API_KEY: { doc: 'Bearer token sent to the ASR, if it needs one.', schema: optionalString },
  ASR_MODEL: { doc: 'The `model` field sent to the ASR.', schema: z.string().min(1).default('whisper-1') },
  ASR_RESPONSE_FORMAT: {
    doc: 'What the ASR is asked for: `verbose_json` (text with timed segments, for subtitles) or `json` (text alone, for ASRs without segments; subtitles then give each chunk one cue).',
    schema: z.enum(['verbose_json', 'json']).default('verbose_json'),
  },
  ASR_TIMEOUT_MS: { doc: 'Timeout of one ASR call; a timed-out call is retried.', schema: positiveInt(60_000) },
  ASR_SIM_HOST: { doc: 'Address the ASR simulator listens on.', schema: z.string().min(1).default('127.0.0.1') },
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
    schema: positiveInt(10_000),
  },
  ASR_MAX_CONCURRENT_CALLS: {
    doc: 'ASR calls all workers of the task queue make at once; each live worker takes an equal share.',
    schema: positiveInt(1000),
  },
  WORKER_SHUTDOWN_GRACE_MS: {
    doc: 'On SIGTERM the worker stops polling and gives running chunks this long to finish; the rest are cancelled (their ASR calls aborted) and retried by Temporal on another worker.',
    schema: positiveInt(20_000),
  },
  WORKER_METRICS_ADDRESS: {
    doc: "host:port where the worker serves Prometheus metrics at /metrics (the Temporal SDK's own, ASR calls, jobs by outcome). Unset: none.",
    schema: optionalString,
  },
  WORKER_MAX_CONCURRENT_ACTIVITIES: {
    doc: 'ASR calls (chunks) one worker makes at once, whatever its share of ASR_MAX_CONCURRENT_CALLS.',
    schema: positiveInt(1000),
  },
  WORKER_MAX_ACTIVITY_POLLERS: {
    doc: 'Most concurrent polls for chunk tasks; pollers scale between 1 and this with the backlog.',
    schema: positiveInt(100),
  },
  WORKER_MAX_WORKFLOW_POLLERS: {
    doc: 'Most concurrent polls for workflow tasks; pollers scale between 1 and this with the backlog.',
    schema: positiveInt(20),
  },
  API_QUERY_TIMEOUT_MS: {
    doc: "How long `GET /transcript/{jobId}` waits for a running job's live state before answering from its history.",
    schema: positiveInt(3000),
  },
} as const;

type Variables = typeof CONFIG_VARIABLES;
type Variable = { doc: string; schema: z.ZodType; secret?: boolean };
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
    const { schema, secret } = variable as Variable;
    const result = schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) parsed[name] = result.data;
    else {
      // A secret's value never reaches a log or terminal, even when it is wrong.
      const shown = secret ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${result.error.issues.map((issue) => issue.message).join(', ')}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as Parsed;
}

/** TLS towards Temporal, if any setting asks for it; files by their resolved paths, read when connecting. */
function temporalTls(v: Parsed) {
  const wanted =
    v.TEMPORAL_TLS ||
    v.TEMPORAL_API_KEY !== undefined ||
    [v.TEMPORAL_TLS_CA_FILE, v.TEMPORAL_TLS_CERT_FILE, v.TEMPORAL_TLS_SERVER_NAME].some((value) => value !== undefined);
  if (!wanted) return undefined;
  const resolved = (file: string | undefined) => (file === undefined ? undefined : path.resolve(file));
  return {
    caFile: resolved(v.TEMPORAL_TLS_CA_FILE),
    certFile: resolved(v.TEMPORAL_TLS_CERT_FILE),
    keyFile: resolved(v.TEMPORAL_TLS_KEY_FILE),
    serverName: v.TEMPORAL_TLS_SERVER_NAME,
  };
}

/** Reads and validates the configuration; throws a {@link ConfigError} naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const v = parseVariables(env);
  const dataDir = path.resolve(v.DATA_DIR);
  if (v.AUTH_METHODS.includes('none') && !isLoopbackHost(v.HOST)) {
    throw new ConfigError([
      `AUTH_METHODS=none: authentication may be off only when the API listens on loopback, and HOST is ${v.HOST}`,
    ]);
  }
  // Temporal refuses such a policy only when the first chunk is scheduled, failing every job; refuse it here.
  if (v.CHUNK_RETRY_MAX_INTERVAL_MS < v.CHUNK_RETRY_INITIAL_INTERVAL_MS) {
    throw new ConfigError([
      `CHUNK_RETRY_MAX_INTERVAL_MS: must be at least CHUNK_RETRY_INITIAL_INTERVAL_MS (${v.CHUNK_RETRY_INITIAL_INTERVAL_MS})`,
    ]);
  }
  if ((v.TEMPORAL_TLS_CERT_FILE === undefined) !== (v.TEMPORAL_TLS_KEY_FILE === undefined)) {
    throw new ConfigError([
      `${v.TEMPORAL_TLS_CERT_FILE === undefined ? 'TEMPORAL_TLS_CERT_FILE' : 'TEMPORAL_TLS_KEY_FILE'}: required with ${v.TEMPORAL_TLS_CERT_FILE === undefined ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE'}, for mutual TLS`,
    ]);
  }
  if (v.CALLBACK_URL_ALLOWLIST.length > 0 && v.CALLBACK_SIGNING_SECRET === undefined) {
    throw new ConfigError(['CALLBACK_SIGNING_SECRET: required when CALLBACK_URL_ALLOWLIST is set, to sign callbacks']);
  }
  const uiOrigins = [`http://127.0.0.1:${v.TEMPORAL_UI_PORT}`, `http://localhost:${v.TEMPORAL_UI_PORT}`];
  const config = {
    api: {
      host: v.HOST,
      port: v.PORT,
      queryTimeoutMs: v.API_QUERY_TIMEOUT_MS,
      maxBodyBytes: v.MAX_REQUEST_BODY_BYTES,
      maxHeaderBytes: v.MAX_HEADER_BYTES,
      codecCorsOrigins: v.CODEC_CORS_ORIGINS ?? uiOrigins,
    },
    auth: {
      methods: v.AUTH_METHODS,
      apiKeys: v.API_KEYS,
      apiKeysFile: path.resolve(v.API_KEYS_FILE ?? path.join(dataDir, 'api-keys.txt')),
      jwt: {
        hs256Secret: v.JWT_HS256_SECRET,
        jwksFile: v.JWT_JWKS_FILE === undefined ? undefined : path.resolve(v.JWT_JWKS_FILE),
        issuer: v.JWT_ISSUER,
        audience: v.JWT_AUDIENCE,
        userIdClaim: v.JWT_USER_ID_CLAIM,
        roleClaim: v.JWT_ROLE_CLAIM,
      },
    },
    limits: {
      ratePerSecond: v.RATE_LIMIT_PER_SECOND,
      rateBurst: v.RATE_LIMIT_BURST,
      jobsInFlightPerUser: v.MAX_JOBS_IN_FLIGHT_PER_USER,
      asrBacklog: v.ASR_BACKLOG_LIMIT,
    },
    encryption: {
      keys: v.PAYLOAD_ENCRYPTION_KEYS,
      keysFile: path.resolve(v.PAYLOAD_ENCRYPTION_KEYS_FILE ?? path.join(dataDir, 'payload-encryption-keys')),
    },
    logLevel: v.LOG_LEVEL,
    dataDir,
    audio: {
      root: path.resolve(v.AUDIO_ROOT ?? path.join(dataDir, 'audio')),
      maxChunkBytes: v.MAX_CHUNK_BYTES,
      maxChunkSeconds: v.MAX_CHUNK_SECONDS,
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
      tls: temporalTls(v),
      apiKey: v.TEMPORAL_API_KEY,
      prepareNamespace: v.TEMPORAL_PREPARE_NAMESPACE,
    },
    asr: {
      url: v.ASR_URL,
      apiKey: v.ASR_API_KEY,
      model: v.ASR_MODEL,
      responseFormat: v.ASR_RESPONSE_FORMAT,
      timeoutMs: v.ASR_TIMEOUT_MS,
      maxConcurrentCalls: v.ASR_MAX_CONCURRENT_CALLS,
    },
    asrEngine: {
      kind: v.ASR_ENGINE,
      port: v.ASR_ENGINE_PORT,
      concurrency: v.ASR_ENGINE_CONCURRENCY,
      queue: v.ASR_ENGINE_QUEUE,
      threads: v.ASR_ENGINE_THREADS,
    },
    asrSimulator: {
      host: v.ASR_SIM_HOST,
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
    callbacks: {
      allowList: v.CALLBACK_URL_ALLOWLIST,
      signingSecret: v.CALLBACK_SIGNING_SECRET,
      taskQueue: `${v.TEMPORAL_TASK_QUEUE}-callbacks`,
      timeoutMs: v.CALLBACK_TIMEOUT_MS,
      retry: {
        maximumAttempts: v.CALLBACK_MAX_ATTEMPTS,
        initialIntervalMs: 5_000,
        backoffCoefficient: 2,
        maximumIntervalMs: 5 * 60_000,
      },
    },
    chunkTimeouts: {
      // An attempt may take the whole ASR timeout plus reading the file; the heartbeat catches dead workers sooner.
      startToCloseMs: v.ASR_TIMEOUT_MS + 10_000,
      heartbeatMs: v.CHUNK_HEARTBEAT_TIMEOUT_MS,
    },
    worker: {
      metricsAddress: v.WORKER_METRICS_ADDRESS,
      shutdownGraceMs: v.WORKER_SHUTDOWN_GRACE_MS,
      maxConcurrentActivities: v.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxActivityPollers: v.WORKER_MAX_ACTIVITY_POLLERS,
      maxWorkflowPollers: v.WORKER_MAX_WORKFLOW_POLLERS,
    },
  };
  return deepFreeze(config);
}

export type Config = ReturnType<typeof loadConfig>;

/** Loopback only: names that cannot be reached from another machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
