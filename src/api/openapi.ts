import { z } from 'zod';
import {
  audioFileDetailsSchema,
  audioListSchema,
  presignedUploadSchema,
  uploadedAudioSchema,
  errorResponseSchema,
  healthResponseSchema,
  searchJobsResponseSchema,
  retryJobResponseSchema,
  submitJobResponseSchema,
  transcriptResultSchema,
} from './response-schemas';
import {
  audioFileQuerySchema,
  listAudioSchema,
  presignUploadSchema,
  uploadAudioSchema,
  getJobSchema,
  idempotencyKeySchema,
  jobIdSchema,
  retryJobSchema,
  searchJobsSchema,
  submitJobSchema,
  userIdSchema,
} from './request-schemas';
import { signingKeyQuerySchema, signingKeyResponseSchema } from './routes/callback-routes';

type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12), from the side the given direction sees. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json: JsonSchema = { ...z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) };
  // The document declares its dialect once; each schema inside it needs none.
  delete json.$schema;
  return json;
}

const json = (schema: z.ZodType) => ({ 'application/json': { schema: schemaOf(schema, 'output') } });

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 0 } },
};

const ERROR_RESPONSES: Record<string, { description: string; headers?: Record<string, unknown> }> = {
  '400': { description: 'The request is malformed; `details` names each bad field.' },
  '401': {
    description: 'Credentials are missing or not valid.',
    headers: { 'WWW-Authenticate': { description: 'RFC 6750 challenge.', schema: { type: 'string' } } },
  },
  '403': { description: 'The credentials do not allow this, e.g. naming another user.' },
  '404': {
    description:
      'No such job or audio file, or not one the caller may see: the answer is the same (`job_not_found`, `audio_not_found`).',
  },
  '409': {
    description:
      'The Idempotency-Key was used before with a different request, the job to cancel has already finished, or a transcript was asked of a job that has not completed.',
  },
  '413': { description: 'The body, or an audio file it names, is too large.' },
  '414': { description: 'The URL is longer than 2048 characters.' },
  '415': { description: 'The body is not of a type this operation takes, or an audio file is not a supported format.' },
  '429': {
    description:
      "The caller's request rate or jobs in flight are over the limit, or their running jobs hold their share of a busy ASR backlog.",
    headers: RETRY_AFTER,
  },
  '503': { description: 'Temporal did not answer in time, or the ASR backlog is full.', headers: RETRY_AFTER },
};

function errors(...statuses: (keyof typeof ERROR_RESPONSES)[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { ...ERROR_RESPONSES[status], content: json(errorResponseSchema) }]),
  );
}

/**
 * What any request may get before it reaches a route: Node's own 431 has no body, and a 429 when the client's
 * address has spent its allowance of requests without valid credentials.
 */
const TRANSPORT_LIMITS = {
  ...errors('414', '429'),
  '431': { description: 'The request line and headers are larger than MAX_HEADER_BYTES.' },
};

/** Query parameters from an object schema, one per property, each with its own schema. */
function queryParameters(schema: z.ZodObject) {
  const objectSchema = schemaOf(schema, 'input') as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(objectSchema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: objectSchema.required?.includes(name) ?? false,
    description: property.description,
    schema: property,
  }));
}

const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: schemaOf(idempotencyKeySchema.unwrap(), 'input'),
  description: idempotencyKeySchema.unwrap().meta()?.description,
};

/** The `202` of an operation that starts a job, with where to read it and a link to reading it. */
function jobStarted(what: 'job' | 'new job', schema: z.ZodType) {
  return {
    description: `The ${what} started (or, with a repeated Idempotency-Key, had started).`,
    headers: {
      Location: { description: `Where to read the ${what}.`, schema: { type: 'string' } },
      'Idempotent-Replayed': { description: '`true` on a repeat.', schema: { type: 'string' } },
    },
    content: json(schema),
    links: {
      getJob: { operationId: 'getJob', parameters: { jobId: '$response.body#/jobId' }, description: `The ${what}.` },
    },
  };
}

export interface OpenApiOptions {
  maxChunksPerJob: number;
  maxChunkBytes: number;
  /** Body schema of the codec endpoints, when the API serves them. */
  codecPayloads?: z.ZodType;
}

/**
 * The API's OpenAPI 3.1 document, built from the same zod schemas that validate requests and describe responses,
 * so the two cannot drift. Served at `/openapi.json`.
 */
export function buildOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    ...jobPaths(options),
    ...jobPathsById(),
    ...audioPaths(options),
    ...audioFilePaths(),
    ...callbackPaths(),
    ...servicePaths(),
    ...(options.codecPayloads ? codecPaths(options.codecPayloads) : {}),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Transcription service',
      version: '1.0.0',
      description:
        'Submit audio chunks, get one stitched transcript back. Every operation but `/healthz` and this document needs `Authorization: Bearer <API key or JWT>`.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key (`tsk_…`) or a JWT.' },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** What every operation that needs credentials may also answer. */
function authenticated(responses: Record<string, unknown>) {
  return { ...responses, ...errors('401', '429', '503'), ...TRANSPORT_LIMITS };
}

/** Submitting and searching jobs. */
function jobPaths(options: OpenApiOptions): Record<string, unknown> {
  return {
    '/transcribe': {
      post: {
        operationId: 'submitJob',
        summary: 'Start a transcription job',
        description:
          "Returns at once with the job id; the chunks are transcribed in parallel and stitched in order. Every file is checked here: it must be in the caller's audio space (an upload's `path`, or a file placed there), be a supported audio format (WAV, FLAC, MP3, Ogg, M4A) and be within the size and duration limits. A file the caller does not have is a 404 `audio_not_found`, whoever else may have it.",
        parameters: [idempotencyKeyHeader],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schemaOf(submitJobSchema(options.maxChunksPerJob), 'input') } },
        },
        responses: authenticated({
          '202': jobStarted('job', submitJobResponseSchema),
          ...errors('400', '403', '404', '409', '413', '415'),
        }),
      },
    },
    '/transcript/search': {
      get: {
        operationId: 'searchJobs',
        summary: "List a user's jobs in one status",
        description:
          'Newest first (by `createdTime`), from the jobs database: a job is listed the moment its POST has answered, and paging gives each job once while new ones arrive. Operators may list any user; users only their own.',
        parameters: queryParameters(searchJobsSchema),
        responses: authenticated({
          '200': { description: 'One page of jobs.', content: json(searchJobsResponseSchema) },
          ...errors('400', '403'),
        }),
      },
    },
  };
}

/** Reading a job, cancelling it and retrying it. */
function jobPathsById(): Record<string, unknown> {
  return {
    '/transcript/{jobId}': {
      get: {
        operationId: 'getJob',
        summary: 'Read a job: its status, every chunk, and the transcript once completed',
        parameters: [
          { name: 'jobId', in: 'path', required: true, schema: schemaOf(jobIdSchema, 'input') },
          ...queryParameters(getJobSchema),
        ],
        responses: authenticated({
          '200': {
            description:
              'The job (`format=json`), its transcript as plain text (`format=txt`), or subtitles (`format=srt`, `format=vtt`).',
            content: {
              ...json(transcriptResultSchema),
              'text/plain': { schema: { type: 'string' } },
              'application/x-subrip': { schema: { type: 'string' } },
              'text/vtt': { schema: { type: 'string' } },
            },
          },
          ...errors('400', '404', '409'),
        }),
      },
      delete: {
        operationId: 'cancelOrDeleteJob',
        summary: 'Cancel a job in progress, or delete a finished one',
        description:
          'A job in progress is cancelled: its chunk calls to the ASR are aborted and it reads `failed` with `failureReason` "canceled" within seconds; chunks already transcribed keep their text. A finished job is deleted: its record and transcript in the jobs database, and its workflow history in Temporal; it then reads as missing. Owners and operators may do either.',
        parameters: [{ name: 'jobId', in: 'path', required: true, schema: schemaOf(jobIdSchema, 'input') }],
        responses: authenticated({
          '202': {
            description: 'Cancellation requested; the job as it was at that moment.',
            content: json(transcriptResultSchema),
          },
          '204': { description: 'The finished job is deleted.' },
          ...errors('404'),
        }),
      },
    },
    '/transcript/{jobId}/retry': {
      post: {
        operationId: 'retryJob',
        summary: "Retry a failed job's failed chunks",
        description:
          'Starts a new job over the same files that carries over the chunks the failed job transcribed and sends only the others to the ASR again. Their files are checked again as on submission. Owners and operators may retry; only a failed job can be retried.',
        parameters: [
          { name: 'jobId', in: 'path', required: true, schema: schemaOf(jobIdSchema, 'input') },
          idempotencyKeyHeader,
        ],
        requestBody: {
          required: false,
          description: 'Optional: a callback URL for the new job.',
          content: { 'application/json': { schema: schemaOf(retryJobSchema, 'input') } },
        },
        responses: authenticated({
          '202': jobStarted('new job', retryJobResponseSchema),
          ...errors('400', '404', '409', '413', '415'),
        }),
      },
    },
  };
}

/** The caller's audio space: uploads, presigned uploads and listing. */
function audioPaths(options: OpenApiOptions): Record<string, unknown> {
  return {
    '/audio': {
      post: {
        operationId: 'uploadAudio',
        summary: 'Upload an audio file into your audio space',
        description: `The file as the raw body (\`audio/*\` or \`application/octet-stream\`), or as the \`file\` field of \`multipart/form-data\`, at most ${options.maxChunkBytes} bytes. It is streamed, checked (a supported format, within the size and duration limits) and stored under \`uploads/\`; on refusal nothing is kept. Put the answer's \`path\` in \`audioChunkPaths\`. Uploads expire after AUDIO_UPLOAD_RETENTION_HOURS.`,
        parameters: queryParameters(uploadAudioSchema),
        requestBody: {
          required: true,
          content: {
            'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            'audio/*': { schema: { type: 'string', format: 'binary' } },
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { file: { type: 'string', format: 'binary' } },
                required: ['file'],
              },
            },
          },
        },
        responses: authenticated({
          '201': {
            description: 'Stored.',
            headers: { Location: { description: 'Where to read the file.', schema: { type: 'string' } } },
            content: json(uploadedAudioSchema),
          },
          ...errors('400', '403', '413', '415'),
        }),
      },
      get: {
        operationId: 'listAudio',
        summary: 'List the files in your audio space',
        description: 'In path order, a page at a time.',
        parameters: queryParameters(listAudioSchema),
        responses: authenticated({
          '200': { description: 'One page of files.', content: json(audioListSchema) },
          ...errors('400', '403'),
        }),
      },
    },
    '/audio/uploads': {
      post: {
        operationId: 'presignUpload',
        summary: 'Get a URL to upload one file straight to the S3 store',
        description:
          'For big fleets whose clients should not pass bytes through the API: PUT the file to `uploadUrl` with exactly the `headers` given (its size is signed, so no other size is accepted) before `expiresTime`. The file is checked when a job names it.',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schemaOf(presignUploadSchema, 'input') } },
        },
        responses: authenticated({
          '201': { description: 'The signed upload.', content: json(presignedUploadSchema) },
          '404': {
            description:
              'This deployment keeps audio in a local folder, which cannot sign uploads (`direct_uploads_unavailable`).',
            content: json(errorResponseSchema),
          },
          ...errors('400', '403', '413', '415'),
        }),
      },
    },
  };
}

/** The path of one file of the caller's audio space, and the query that may name whose space. */
function audioFileParameters(): unknown[] {
  return [
    {
      name: 'path',
      in: 'path',
      required: true,
      description: 'The file path; its slashes may stay as they are.',
      schema: { type: 'string' },
    },
    ...queryParameters(audioFileQuerySchema),
  ];
}

/** One file of the caller's audio space. */
function audioFilePaths(): Record<string, unknown> {
  return {
    '/audio/{path}': {
      get: {
        operationId: 'getAudio',
        summary: 'Read what one of your files holds',
        parameters: [...audioFileParameters()],
        responses: authenticated({
          '200': { description: 'The file, checked as a chunk would be.', content: json(audioFileDetailsSchema) },
          ...errors('400', '403', '404', '413', '415'),
        }),
      },
      delete: {
        operationId: 'deleteAudio',
        summary: 'Delete one of your files',
        parameters: [...audioFileParameters()],
        responses: authenticated({ '204': { description: 'Deleted.' }, ...errors('400', '403', '404') }),
      },
    },
  };
}

/** Metrics for operators, the health check and this document. */
function servicePaths(): Record<string, unknown> {
  return {
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics of this API process (operators only)',
        description:
          'Requests by route template, method and status, their latency, and the Node process figures, in the Prometheus text format.',
        responses: authenticated({
          '200': { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors('403'),
        }),
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Whether the API can reach Temporal and the jobs database',
        description:
          'Checked at most every 2 s whatever the number of callers; a `503` names the part that does not answer in its `details`.',
        security: [],
        responses: {
          '200': { description: 'Healthy.', content: json(healthResponseSchema) },
          ...errors('503'),
          ...TRANSPORT_LIMITS,
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openApiDocument',
        summary: 'This document',
        security: [],
        responses: {
          '200': { description: 'The OpenAPI document.', content: { 'application/json': {} } },
          ...TRANSPORT_LIMITS,
        },
      },
    },
  };
}

/** The key a user's callback receiver verifies signatures with. */
function callbackPaths(): Record<string, unknown> {
  return {
    '/callbacks/signing-key': {
      get: {
        operationId: 'getCallbackSigningKey',
        summary: "The key the caller's callback receiver verifies signatures with",
        description:
          "Each user has a key of their own for each callback URL, derived on the server, so no receiver can sign callbacks, nor verify another user's. The URL must be allowed for the caller (`CALLBACK_URL_ALLOWLIST`), and the API must know `CALLBACK_SIGNING_SECRET`; otherwise a 400 says why.",
        parameters: queryParameters(signingKeyQuerySchema),
        responses: authenticated({
          '200': { description: 'The key.', content: json(signingKeyResponseSchema) },
          ...errors('400', '403'),
        }),
      },
    },
  };
}

/** Temporal's remote codec protocol and the browser sign-in, when payloads are encrypted. */
function codecPaths(codecPayloads: z.ZodType): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const codecOperation = (operationId: string, summary: string) => ({
    post: {
      operationId,
      summary,
      description:
        "Temporal's remote codec protocol, for the Web UI and `temporal` CLI. Operators only: bearer credentials, or a browser signed in at `/codec/session`. Header `X-Namespace` names the namespace.",
      requestBody: {
        required: true,
        content: { 'application/json': { schema: schemaOf(codecPayloads, 'input') } },
      },
      responses: authenticated({
        '200': { description: 'The payloads, transformed.', content: json(codecPayloads) },
        ...errors('400', '403', '413', '415'),
      }),
    },
  });
  paths['/codec/encode'] = codecOperation('encodePayloads', 'Encrypt payloads');
  paths['/codec/decode'] = codecOperation('decodePayloads', 'Decrypt payloads stored in Temporal');
  const html = { 'text/html': { schema: { type: 'string' } } };
  paths['/codec/session'] = {
    get: {
      operationId: 'codecSignInForm',
      summary: 'The page where an operator signs a browser in to decode job data in the Web UI',
      security: [],
      responses: { '200': { description: 'The sign-in form.', content: html }, ...TRANSPORT_LIMITS },
    },
    post: {
      operationId: 'codecSignIn',
      summary: 'Sign this browser in with an operator API key (sets an HttpOnly, SameSite=Strict cookie)',
      security: [],
      requestBody: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
          },
        },
      },
      responses: {
        '200': { description: 'Signed in.', content: html },
        '401': { description: 'The key is not valid.', content: html },
        '403': { description: 'The key is not an operator’s.', content: html },
        ...errors('413', '415'),
        ...TRANSPORT_LIMITS,
      },
    },
    delete: {
      operationId: 'codecSignOut',
      summary: "Sign this browser out: its session stops working in every API process (the cookie's copy too)",
      security: [],
      responses: { '204': { description: 'Signed out, or there was no session.' }, ...TRANSPORT_LIMITS },
    },
  };
  paths['/codec/session/sign-out'] = {
    post: {
      operationId: 'codecSignOutForm',
      summary: 'The sign-out button of the signed-in page: as `DELETE /codec/session`, answered with a page',
      security: [],
      responses: { '200': { description: 'Signed out.', content: html }, ...TRANSPORT_LIMITS },
    },
  };
  paths['/codec/sessions/{userId}'] = {
    delete: {
      operationId: 'revokeCodecSessions',
      summary: 'End every codec session a user holds now, in every API process (a lost laptop, a leaked cookie)',
      description:
        'Operators only, by bearer credentials (never by a session cookie). Sessions opened afterwards work.',
      parameters: [{ name: 'userId', in: 'path', required: true, schema: schemaOf(userIdSchema, 'input') }],
      responses: authenticated({ '204': { description: 'Revoked.' }, ...errors('400', '403') }),
    },
  };
  return paths;
}
