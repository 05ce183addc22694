import { z } from 'zod';
import { AUDIO_LAYOUTS } from '../storage/audio-paths';
import {
  audioStore,
  authMethods,
  callbackAllowList,
  filePath,
  flag,
  latencyRange,
  nonEmpty,
  nonNegativeInt,
  optionalFilePath,
  optionalString,
  originList,
  port,
  positiveInt,
  regex,
  url,
} from './schemas';
import { setting } from './setting';

/** What a JWT issuer's alias may be: it goes into user ids, so it keeps to their alphabet and leaves room for them. */
export const JWT_ISSUER_ALIAS_PATTERN = /^[a-z0-9][a-z0-9.-]{0,39}$/;

/** The alias a token issuer gets when `JWT_ISSUER_ALIAS` is unset: its host name, if it has one that fits. */
export function issuerHostAlias(issuer: string): string | undefined {
  const alias = (URL.canParse(issuer) ? new URL(issuer).hostname : issuer).toLowerCase();
  return JWT_ISSUER_ALIAS_PATTERN.test(alias) ? alias : undefined;
}

/** Callbacks back off on a fixed curve; only their number of attempts is a setting. */
export const CALLBACK_BACKOFF = { initialIntervalMs: 5_000, backoffCoefficient: 2, maximumIntervalMs: 5 * 60_000 };

/**
 * Every setting of the service, declared once: its variable, schema, default and doc. The tree's shape is the shape
 * of `Config` (values that no single variable holds are added in derive-config.ts), and docs/configuration.md is
 * rendered from it.
 */
export const SETTINGS = {
  logLevel: setting({
    env: 'LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
  }),
  dataDir: setting({
    env: 'DATA_DIR',
    schema: filePath,
    default: './data',
    doc: "Folder of the service's local state: the embedded dev server's database, the upload spool, and the default places of the audio, the API keys and the encryption keys.",
  }),
  api: {
    host: setting({ env: 'HOST', schema: z.string(), default: '127.0.0.1', doc: 'Address the API listens on.' }),
    trustProxy: setting({
      env: 'TRUST_PROXY',
      schema: flag,
      default: false,
      doc: 'Believe a proxy in front about the client (`X-Forwarded-For`: per-IP limits and logs) and about TLS (`X-Forwarded-Proto`: codec session cookies are then `Secure`). Turn on only when every request comes through that proxy, which must set both headers itself.',
    }),
    port: setting({ env: 'PORT', schema: port, default: 3000, doc: 'Port of the API (0 picks a free one).' }),
    queryTimeoutMs: setting({
      env: 'API_QUERY_TIMEOUT_MS',
      schema: positiveInt,
      default: 3000,
      doc: "How long a read of a running job that has no record (the backfill's) waits for its workflow's `jobState` query before reading its history instead. The API's reads never ask a worker.",
    }),
    maxBodyBytes: setting({
      env: 'MAX_REQUEST_BODY_BYTES',
      schema: positiveInt,
      default: 64 * 1024,
      doc: 'Largest request body accepted.',
    }),
    maxHeaderBytes: setting({
      env: 'MAX_HEADER_BYTES',
      schema: positiveInt,
      default: 16 * 1024,
      doc: 'Largest total size of request headers accepted.',
    }),
    codecCorsOrigins: setting({
      env: 'CODEC_CORS_ORIGINS',
      schema: originList,
      fallback: 'the embedded Web UI on 127.0.0.1 and localhost, at `TEMPORAL_UI_PORT`',
      doc: "Origins (the Web UI's) allowed to call the codec endpoint from a browser, comma-separated.",
    }),
  },
  auth: {
    methods: setting({
      env: 'AUTH_METHODS',
      schema: authMethods,
      default: 'api-key',
      doc: 'Credentials the API accepts: `api-key`, `jwt`, or both comma-separated; `none` turns authentication off and is refused unless HOST is a loopback address.',
    }),
    apiKeys: setting({
      env: 'API_KEYS',
      schema: optionalString,
      secret: true,
      doc: 'Development API keys, `key:userId:role` comma-separated (role `user` or `operator`). Production uses API_KEYS_FILE.',
    }),
    apiKeysFile: setting({
      env: 'API_KEYS_FILE',
      schema: optionalFilePath,
      fallback: '`$DATA_DIR/api-keys.txt`',
      doc: 'File of hashed API keys, one `sha256:<hex> <userId> <role>` per line (`npm run api-key` makes them); `npm start` creates the default file with development keys on first start.',
    }),
    jwt: {
      hs256Secret: setting({
        env: 'JWT_HS256_SECRET',
        schema: optionalString,
        secret: true,
        doc: 'Secret of HS256 bearer tokens (at least 32 bytes).',
      }),
      jwksFile: setting({
        env: 'JWT_JWKS_FILE',
        schema: optionalFilePath,
        doc: 'JWKS file with the RS256/ES256 public keys of bearer tokens.',
      }),
      issuer: setting({ env: 'JWT_ISSUER', schema: optionalString, doc: 'Required `iss` of bearer tokens.' }),
      audience: setting({ env: 'JWT_AUDIENCE', schema: optionalString, doc: 'Required `aud` of bearer tokens.' }),
      userIdClaim: setting({
        env: 'JWT_USER_ID_CLAIM',
        schema: nonEmpty,
        default: 'sub',
        doc: "Token claim holding the caller's user id.",
      }),
      roleClaim: setting({
        env: 'JWT_ROLE_CLAIM',
        schema: nonEmpty,
        default: 'role',
        doc: 'Token claim holding the role: `operator`, or an array containing it; anything else is `user`.',
      }),
      issuerAlias: setting({
        env: 'JWT_ISSUER_ALIAS',
        schema: optionalString.refine(
          (value) => value === undefined || JWT_ISSUER_ALIAS_PATTERN.test(value),
          'lowercase letters, digits, dots and dashes, at most 40',
        ),
        fallback: 'the host name of `JWT_ISSUER`',
        doc: "Short name of the token issuer in user ids: a token's caller is the user `jwt:<alias>:<claim>`, never the same user as an API key's.",
      }),
      plainUserIds: setting({
        env: 'JWT_PLAIN_USER_IDS',
        schema: flag,
        default: false,
        doc: "Make a token's caller the user named by the bare claim, as before user ids were namespaced: only for a deployment that accepts no API keys, until its records are renamed (docs/security.md). Refused with `AUTH_METHODS` including `api-key`.",
      }),
    },
  },
  limits: {
    ratePerSecond: setting({
      env: 'RATE_LIMIT_PER_SECOND',
      schema: positiveInt,
      default: 20,
      doc: 'Requests per second one user may make, sustained, to all API processes together (they share the limit through the jobs database).',
    }),
    rateBurst: setting({
      env: 'RATE_LIMIT_BURST',
      schema: positiveInt,
      default: 40,
      doc: 'Requests one user may make at once before the rate limit applies.',
    }),
    addressRatePerSecond: setting({
      env: 'RATE_LIMIT_PER_ADDRESS_PER_SECOND',
      schema: positiveInt,
      default: 50,
      doc: 'Requests per second one client address may make without valid credentials (the public routes, the codec sign-in, refused credentials), sustained, fleet-wide; past it they get 429 before their credentials are checked.',
    }),
    addressRateBurst: setting({
      env: 'RATE_LIMIT_PER_ADDRESS_BURST',
      schema: positiveInt,
      default: 100,
      doc: 'Requests without valid credentials one client address may make at once.',
    }),
    jobsInFlightPerUser: setting({
      env: 'MAX_JOBS_IN_FLIGHT_PER_USER',
      schema: positiveInt,
      default: 20,
      doc: 'Jobs one user may have in progress at once.',
    }),
    asrBacklog: setting({
      env: 'ASR_BACKLOG_LIMIT',
      schema: positiveInt,
      default: 2000,
      doc: 'Chunks waiting for a worker beyond which new jobs are refused with 503 until the backlog drains. Past half of it the backlog is shared: a user whose running jobs hold more chunks than the limit divided by the users with jobs running gets 429 `asr_share_used`, so a few heavy users cannot lock the others out.',
    }),
  },
  encryption: {
    keys: setting({
      env: 'PAYLOAD_ENCRYPTION_KEYS',
      schema: optionalString,
      secret: true,
      doc: 'AES-256-GCM keys for job data stored in Temporal, `keyId:base64key` comma-separated; the first encrypts, all decrypt.',
    }),
    keysFile: setting({
      env: 'PAYLOAD_ENCRYPTION_KEYS_FILE',
      schema: optionalFilePath,
      fallback: '`$DATA_DIR/payload-encryption-keys`',
      doc: 'File holding the same list, used when PAYLOAD_ENCRYPTION_KEYS is unset; `npm start` creates the default file on first start.',
    }),
    acceptUnencryptedUntil: setting({
      env: 'PAYLOAD_ACCEPT_UNENCRYPTED_UNTIL',
      schema: optionalString.transform((value, ctx) => {
        if (value === undefined) return undefined;
        // A date alone, or a date and time with its zone: never a local time, which differs from host to host.
        const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value);
        const instant = new Date(value);
        if (!iso || Number.isNaN(instant.getTime())) {
          ctx.addIssue({
            code: 'custom',
            message: 'expected an ISO 8601 date (2027-03-31) or date and time with zone',
          });
          return z.NEVER;
        }
        return instant;
      }),
      doc: 'Until this date (ISO 8601; a date alone is midnight UTC), payloads read from Temporal without encryption are let through and logged: the migration window for history written before encryption. Unset or past, they are refused, so no one can start or steer a job by writing plain payloads to Temporal directly.',
    }),
  },
  jobsDatabase: {
    url: setting({
      env: 'JOBS_DATABASE_URL',
      schema: optionalString.refine(
        (value) => value === undefined || /^postgres(ql)?:\/\//.test(value),
        'must be a postgres:// or postgresql:// URL',
      ),
      secret: true,
      fallback: 'a SQLite file, `$DATA_DIR/jobs.sqlite`',
      doc: 'The jobs database, the system of record of every job: `postgresql://user:password@host:port/database` (PostgreSQL 14+) for a fleet. Unset, a SQLite file in WAL mode that the API and worker of one machine share.',
    }),
    recordRetentionDays: setting({
      env: 'JOB_RECORD_RETENTION_DAYS',
      schema: positiveInt,
      default: 400,
      doc: "How long a job's record (its transcript included) is kept after the job was created; a Temporal Schedule deletes older ones daily.",
    }),
    reconcileEveryMinutes: setting({
      env: 'JOB_RECONCILE_EVERY_MINUTES',
      schema: positiveInt,
      default: 5,
      doc: 'How often a Temporal Schedule finds jobs whose workflow closed without recording its end (terminated, timed out, reset) and records it; reads repair such a job at once.',
    }),
  },
  audio: {
    root: setting({
      env: 'AUDIO_ROOT',
      schema: optionalFilePath,
      fallback: '`$DATA_DIR/audio`',
      doc: "Folder of the local audio store (when AUDIO_STORE is unset): each user's files are in `<AUDIO_ROOT>/<user space>/`.",
    }),
    store: setting({
      env: 'AUDIO_STORE',
      schema: audioStore,
      doc: 'Where audio is kept: unset for the local folder AUDIO_ROOT, or `s3://bucket/prefix` for an S3-compatible store that every API and worker process reaches (see the S3_* settings).',
    }),
    layout: setting({
      env: 'AUDIO_LAYOUT',
      schema: z.enum(AUDIO_LAYOUTS),
      default: 'per-user',
      doc: "`per-user`: every path a user names resolves inside that user's own space, `<store>/<user space>/<path>`. `shared`: every path resolves against the store's root, for a single-tenant deployment only (every user can read every file).",
    }),
    uploadRetentionHours: setting({
      env: 'AUDIO_UPLOAD_RETENTION_HOURS',
      schema: z.coerce.number().positive(),
      default: 72,
      doc: "Uploads (`uploads/` in each space) are removed this long after they were stored, by a Temporal Schedule; a running job's files are kept until it ends. Fractions are allowed (`0.5` is 30 minutes).",
    }),
    uploadExpiryEveryMinutes: setting({
      env: 'AUDIO_UPLOAD_EXPIRY_EVERY_MINUTES',
      schema: positiveInt,
      default: 60,
      doc: 'How often the upload-expiry Schedule sweeps the store.',
    }),
    s3: {
      endpoint: setting({
        env: 'S3_ENDPOINT',
        schema: url,
        doc: 'URL of the S3-compatible endpoint (MinIO, s3proxy, Ceph, R2…); unset for AWS S3 itself.',
      }),
      publicEndpoint: setting({
        env: 'S3_PUBLIC_ENDPOINT',
        schema: url,
        fallback: 'S3_ENDPOINT',
        doc: 'Endpoint written into presigned upload URLs, when clients reach the store by another address than the service.',
      }),
      region: setting({ env: 'S3_REGION', schema: nonEmpty, default: 'us-east-1', doc: 'Region of the bucket.' }),
      accessKeyId: setting({
        env: 'S3_ACCESS_KEY_ID',
        schema: optionalString,
        doc: "Access key id for the store. Unset: the AWS SDK's default credential chain (AWS_* variables, instance role).",
      }),
      secretAccessKey: setting({
        env: 'S3_SECRET_ACCESS_KEY',
        schema: optionalString,
        secret: true,
        doc: 'Secret access key for the store.',
      }),
      secretAccessKeyFile: setting({
        env: 'S3_SECRET_ACCESS_KEY_FILE',
        schema: optionalFilePath,
        doc: 'File holding the secret access key, used when S3_SECRET_ACCESS_KEY is unset (e.g. a mounted secret).',
      }),
      forcePathStyle: setting({
        env: 'S3_FORCE_PATH_STYLE',
        schema: flag,
        default: false,
        doc: 'Address buckets as `endpoint/bucket` rather than `bucket.endpoint`; most S3-compatible servers need it.',
      }),
    },
    maxChunkBytes: setting({
      env: 'MAX_CHUNK_BYTES',
      schema: positiveInt,
      default: 5 * 1024 * 1024,
      doc: 'Largest audio chunk accepted, in bytes.',
    }),
    maxChunkSeconds: setting({
      env: 'MAX_CHUNK_SECONDS',
      schema: positiveInt,
      default: 300,
      doc: 'Longest audio chunk accepted, in seconds.',
    }),
    maxChunksPerJob: setting({
      env: 'MAX_CHUNKS_PER_JOB',
      schema: positiveInt,
      default: 24,
      doc: 'Most audio chunks in one job.',
    }),
  },
  temporal: {
    address: setting({
      env: 'TEMPORAL_ADDRESS',
      schema: optionalString,
      fallback: '`127.0.0.1:$TEMPORAL_PORT`',
      doc: 'Temporal frontend `host:port`. Unset: `npm start` runs the embedded dev server, and the API and worker connect to it.',
    }),
    namespace: setting({ env: 'TEMPORAL_NAMESPACE', schema: nonEmpty, default: 'default', doc: 'Temporal namespace.' }),
    taskQueue: setting({
      env: 'TEMPORAL_TASK_QUEUE',
      schema: nonEmpty,
      default: 'transcription',
      doc: 'Task queue of the transcription worker; upload expiry and callbacks use `<queue>-maintenance` and `<queue>-callbacks`.',
    }),
    tls: {
      enabled: setting({
        env: 'TEMPORAL_TLS',
        schema: flag,
        default: false,
        doc: "Connect to Temporal over TLS, verifying the server's certificate against the system's CAs or TEMPORAL_TLS_CA_FILE. Implied by the other TEMPORAL_TLS_* variables and by TEMPORAL_API_KEY.",
      }),
      caFile: setting({
        env: 'TEMPORAL_TLS_CA_FILE',
        schema: optionalFilePath,
        doc: "PEM file of the CA that signed the Temporal server's certificate, when the system does not trust it.",
      }),
      certFile: setting({
        env: 'TEMPORAL_TLS_CERT_FILE',
        schema: optionalFilePath,
        doc: "PEM file of this process's client certificate, for mutual TLS; needs TEMPORAL_TLS_KEY_FILE.",
      }),
      keyFile: setting({
        env: 'TEMPORAL_TLS_KEY_FILE',
        schema: optionalFilePath,
        doc: 'PEM file of the private key of TEMPORAL_TLS_CERT_FILE.',
      }),
      serverName: setting({
        env: 'TEMPORAL_TLS_SERVER_NAME',
        schema: optionalString,
        doc: "Name to check the server's certificate against (and send as SNI), when it is not the host of TEMPORAL_ADDRESS.",
      }),
    },
    apiKey: setting({
      env: 'TEMPORAL_API_KEY',
      schema: optionalString,
      secret: true,
      doc: 'API key sent to Temporal (Temporal Cloud API-key authentication); implies TLS.',
    }),
    prepareNamespace: setting({
      env: 'TEMPORAL_PREPARE_NAMESPACE',
      schema: flag,
      default: true,
      doc: 'Register the search attributes and set the retention on the namespace at start-up. `false` where operators prepare it themselves (Temporal Cloud; the production compose): the processes then only check that the search attributes exist.',
    }),
    devServerPort: setting({
      env: 'TEMPORAL_PORT',
      schema: port,
      default: 7233,
      doc: 'gRPC port of the embedded dev server.',
    }),
    devServerUiPort: setting({
      env: 'TEMPORAL_UI_PORT',
      schema: port,
      default: 8233,
      doc: 'Web UI port of the embedded dev server.',
    }),
    clusterTls: setting({
      env: 'TEMPORAL_CLUSTER_TLS',
      schema: flag,
      default: true,
      doc: "`npm run cluster` only: mutual TLS on the cluster's frontend and between its processes, with the certificates it makes in `$DATA_DIR/cluster/tls` (docs/cluster.md, TLS); it prints the TEMPORAL_TLS_* settings `npm start` then needs. `false` runs it on plain gRPC.",
    }),
    retentionDays: setting({
      env: 'TEMPORAL_RETENTION_DAYS',
      schema: positiveInt,
      default: 7,
      doc: "How long Temporal keeps a finished job's workflow history (for operators, in the Web UI); set on the namespace at start-up. The job's record lives in the jobs database for JOB_RECORD_RETENTION_DAYS, so this can be short.",
    }),
    startupTimeoutMs: setting({
      env: 'TEMPORAL_STARTUP_TIMEOUT_MS',
      schema: positiveInt,
      default: 60_000,
      doc: 'How long to wait for Temporal to answer at start-up.',
    }),
    toolsDir: setting({
      env: 'TEMPORAL_TOOLS_DIR',
      schema: filePath,
      default: './.tools',
      doc: 'Where `npm run setup` installed the pinned tools: the Temporal binaries and the local ASR engine.',
    }),
  },
  asr: {
    url: setting({
      env: 'ASR_URL',
      schema: url,
      requiredBy: ['worker'],
      doc: 'Base URL of an OpenAI-compatible ASR (`POST {ASR_URL}/v1/audio/transcriptions`). Unset: `npm start` runs the ASR that `ASR_ENGINE` names and passes its URL to the worker.',
    }),
    apiKey: setting({
      env: 'ASR_API_KEY',
      schema: optionalString,
      secret: true,
      doc: 'Bearer token sent to the ASR, if it needs one.',
    }),
    model: setting({
      env: 'ASR_MODEL',
      schema: nonEmpty,
      default: 'whisper-1',
      doc: 'The `model` field sent to the ASR.',
    }),
    responseFormat: setting({
      env: 'ASR_RESPONSE_FORMAT',
      schema: z.enum(['verbose_json', 'json']),
      default: 'verbose_json',
      doc: 'What the ASR is asked for: `verbose_json` (text with timed segments, for subtitles) or `json` (text alone, for ASRs without segments; subtitles then give each chunk one cue).',
    }),
    timeoutMs: setting({
      env: 'ASR_TIMEOUT_MS',
      schema: positiveInt,
      default: 60_000,
      doc: 'Timeout of one ASR call; a timed-out call is retried. When unset, `npm start` passes a longer one to the worker for its local engine.',
    }),
    maxConcurrentCalls: setting({
      env: 'ASR_MAX_CONCURRENT_CALLS',
      schema: positiveInt,
      default: 1000,
      doc: 'ASR calls all workers of the task queue make at once; each live worker takes an equal share. When unset, `npm start` passes ASR_ENGINE_CONCURRENCY for its local engine.',
    }),
  },
  asrEngine: {
    kind: setting({
      env: 'ASR_ENGINE',
      schema: z.enum(['local', 'simulator']),
      default: 'local',
      doc: 'The ASR `npm start` runs when `ASR_URL` is unset: `local` (offline Whisper tiny.en, real text) or `simulator` (made-up text after ASR_SIM_LATENCY_MS; for benchmarks and fault tests).',
    }),
    port: setting({
      env: 'ASR_ENGINE_PORT',
      schema: port,
      default: 0,
      doc: 'Port of the local ASR engine (0 picks a free one, kept across its restarts).',
    }),
    concurrency: setting({
      env: 'ASR_ENGINE_CONCURRENCY',
      schema: positiveInt,
      default: 1,
      doc: 'Transcriptions the local engine runs at once.',
    }),
    queue: setting({
      env: 'ASR_ENGINE_QUEUE',
      schema: nonNegativeInt,
      default: 2,
      doc: 'Transcriptions that may wait in the local engine beyond those; past that it answers 503 (retried).',
    }),
    threads: setting({
      env: 'ASR_ENGINE_THREADS',
      schema: positiveInt.optional(),
      fallback: 'all cores',
      doc: 'CPU threads each local transcription uses.',
    }),
  },
  asrSimulator: {
    host: setting({
      env: 'ASR_SIM_HOST',
      schema: nonEmpty,
      default: '127.0.0.1',
      doc: 'Address the ASR simulator listens on.',
    }),
    port: setting({
      env: 'ASR_SIM_PORT',
      schema: port,
      default: 0,
      doc: 'Port of the ASR simulator (0 picks a free one).',
    }),
    latency: setting({
      env: 'ASR_SIM_LATENCY_MS',
      schema: latencyRange,
      default: '5000-10000',
      doc: 'Simulator latency, uniform in "min-max" milliseconds.',
    }),
    failureRate: setting({
      env: 'ASR_SIM_FAILURE_RATE',
      schema: z.coerce.number().min(0).max(1),
      default: 0,
      doc: 'Share of simulator calls answered with a transient 503, 0 to 1.',
    }),
    failPattern: setting({
      env: 'ASR_SIM_FAIL_PATTERN',
      schema: regex,
      doc: 'Regex: the simulator always answers 500 for files whose path matches it.',
    }),
  },
  chunkRetry: {
    maximumAttempts: setting({
      env: 'CHUNK_MAX_ATTEMPTS',
      schema: positiveInt,
      default: 3,
      doc: 'ASR attempts per chunk, the first included.',
    }),
    initialIntervalMs: setting({
      env: 'CHUNK_RETRY_INITIAL_INTERVAL_MS',
      schema: positiveInt,
      default: 1000,
      doc: 'Backoff before the second attempt.',
    }),
    backoffCoefficient: setting({
      env: 'CHUNK_RETRY_BACKOFF_COEFFICIENT',
      schema: z.coerce.number().min(1),
      default: 2,
      doc: 'Each further backoff is the previous one times this.',
    }),
    maximumIntervalMs: setting({
      env: 'CHUNK_RETRY_MAX_INTERVAL_MS',
      schema: positiveInt,
      default: 30_000,
      doc: 'Longest backoff between attempts; at least CHUNK_RETRY_INITIAL_INTERVAL_MS.',
    }),
  },
  chunkTimeouts: {
    heartbeatMs: setting({
      env: 'CHUNK_HEARTBEAT_TIMEOUT_MS',
      schema: positiveInt,
      default: 20_000,
      doc: 'A chunk whose worker stops heartbeating for this long is retried elsewhere. The worker beats first at 0.6 of it into an ASR call (each beat is a write on the Temporal server), so the default lets a 5-10 s call send none; a cancelled job reaches its running calls at their next beat.',
    }),
  },
  callbacks: {
    allowList: setting({
      env: 'CALLBACK_URL_ALLOWLIST',
      schema: callbackAllowList,
      doc: "Origins job callbacks may be sent to, comma-separated: `https://hooks.example.com` for every user's jobs, `alice=https://hooks.alice.example` for alice's alone, `https://*.example.com` for the direct subdomains of example.com (one label). Unset: `callbackUrl` is refused.",
    }),
    signingSecret: setting({
      env: 'CALLBACK_SIGNING_SECRET',
      schema: optionalString.refine(
        (value) => value === undefined || value.length >= 32,
        'must be at least 32 characters',
      ),
      secret: true,
      doc: "Secret (at least 32 characters) from which each receiver's HMAC-SHA256 key is derived, one per user and callback URL; it never leaves the service. Required with CALLBACK_URL_ALLOWLIST.",
    }),
    allowPrivateAddresses: setting({
      env: 'CALLBACK_ALLOW_PRIVATE_ADDRESSES',
      schema: flag,
      default: false,
      doc: 'Let callbacks reach loopback, private (RFC 1918), CGNAT, link-local, unique-local, unspecified and multicast addresses. Off: a callback host that resolves to one is refused.',
    }),
    timeoutMs: setting({
      env: 'CALLBACK_TIMEOUT_MS',
      schema: positiveInt,
      default: 10_000,
      doc: 'How long one callback attempt waits for the receiver to answer.',
    }),
    retry: {
      maximumAttempts: setting({
        env: 'CALLBACK_MAX_ATTEMPTS',
        schema: positiveInt,
        default: 10,
        doc: `Attempts to deliver one callback, backoff ${CALLBACK_BACKOFF.initialIntervalMs / 1000} s multiplied by ${CALLBACK_BACKOFF.backoffCoefficient} up to ${CALLBACK_BACKOFF.maximumIntervalMs / 60_000} minutes between them.`,
      }),
    },
  },
  worker: {
    metricsAddress: setting({
      env: 'WORKER_METRICS_ADDRESS',
      schema: optionalString,
      doc: "host:port where the worker serves Prometheus metrics at /metrics (the Temporal SDK's own, ASR calls, jobs by outcome). Unset: none, except under `npm start`, which picks a free port.",
    }),
    shutdownGraceMs: setting({
      env: 'WORKER_SHUTDOWN_GRACE_MS',
      schema: positiveInt,
      default: 20_000,
      doc: 'On SIGTERM the worker stops polling and gives running chunks this long to finish; the rest are cancelled (their ASR calls aborted) and retried by Temporal on another worker.',
    }),
    maxConcurrentActivities: setting({
      env: 'WORKER_MAX_CONCURRENT_ACTIVITIES',
      schema: positiveInt,
      default: 1000,
      doc: 'ASR calls (chunks) one worker makes at once, whatever its share of ASR_MAX_CONCURRENT_CALLS.',
    }),
    maxActivityPollers: setting({
      env: 'WORKER_MAX_ACTIVITY_POLLERS',
      schema: positiveInt,
      default: 100,
      doc: 'Most concurrent polls for chunk tasks; pollers scale between 1 and this with the backlog.',
    }),
    maxWorkflowPollers: setting({
      env: 'WORKER_MAX_WORKFLOW_POLLERS',
      schema: positiveInt,
      default: 20,
      doc: 'Most concurrent polls for workflow tasks; pollers scale between 1 and this with the backlog.',
    }),
  },
};
