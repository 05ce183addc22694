import { z } from 'zod';
import { JOB_STATUSES } from '../../workflows/contract';
import { USER_ID_PATTERN } from '../auth/principal';
import { RUNNING_JOBS_PER_PAGE } from '../jobs/job-catalog';
import { InvalidAudioPathError, normalizeChunkPath, uploadNameProblem } from '../storage/audio-paths';
import { invalidRequest, type FieldProblem } from './http-error';

/** User ids go into visibility queries and job ids, so they keep to a plain alphabet. */
export const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(USER_ID_PATTERN, 'must be letters, digits and . _ @ : - (starting with a letter or digit)')
  .meta({
    description: "A user id. Defaults to the caller's; only operators may name another user.",
    example: 'alice',
  });

const chunkPath = z
  .string()
  .min(1, 'path is empty')
  .max(1024, 'path is longer than 1024 characters')
  .meta({
    description: "Path of an audio file in the caller's audio space: an upload's `path`, or a file placed there.",
    example: 'example/part-1.wav',
  })
  .transform((value, ctx) => {
    try {
      return normalizeChunkPath(value);
    } catch (err) {
      if (!(err instanceof InvalidAudioPathError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
      return z.NEVER;
    }
  });

export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export const jobIdSchema = z
  .string()
  .regex(JOB_ID_PATTERN)
  .meta({ description: 'The id `POST /transcribe` returned.', example: 'job-01jz8m3k2q4w5e6r7t8y9u0i1o' });

export function submitJobSchema(maxChunksPerJob: number) {
  return z.strictObject({
    userId: userIdSchema.optional(),
    audioChunkPaths: z
      .array(chunkPath)
      .min(1, 'at least one audio chunk is needed')
      .max(maxChunksPerJob, `at most ${maxChunksPerJob} audio chunks per job`)
      .meta({ description: 'The chunks of one recording, in order; their transcripts are stitched in this order.' }),
    callbackUrl: callbackUrlSchema.optional(),
  });
}

const callbackUrlSchema = z.string().max(2048).meta({
  description:
    "Where to POST the job's result (the same JSON as `GET /transcript/{jobId}`) when it ends, signed with HMAC-SHA256; its origin must be on the service's allow-list.",
  example: 'https://hooks.example.com/transcripts',
});

export const retryJobSchema = z.strictObject({
  callbackUrl: callbackUrlSchema.optional(),
});

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .meta({ description: 'Makes retries safe: the same key with the same request returns the job it started.' })
  .optional();

/** The longest a `GET /transcript/{jobId}?wait=` holds its answer for the job to finish. */
export const MAX_WAIT_SECONDS = 15;
export const TRANSCRIPT_FORMATS = ['json', 'txt', 'srt', 'vtt'] as const;

export const getJobSchema = z.strictObject({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .meta({
      description: `Seconds (0-${MAX_WAIT_SECONDS}) to hold the answer while the job is in progress: it comes back as soon as the job finishes, or after that long with the job as it is then.`,
      example: 10,
    }),
  format: z
    .enum(TRANSCRIPT_FORMATS, { message: `must be one of ${TRANSCRIPT_FORMATS.join(', ')}` })
    .optional()
    .meta({
      description:
        '`json` (the default): the job. Once the job has completed (409 before): `txt`, the transcript alone as plain text; `srt` or `vtt`, subtitles timed across the whole job.',
    }),
});

export const searchJobsSchema = z.strictObject({
  userId: userIdSchema.optional(),
  jobStatus: z
    .enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` })
    .meta({ description: "Which of the user's jobs to list." }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .meta({
      description: `Jobs per page; a page of \`in_progress\` jobs holds at most ${RUNNING_JOBS_PER_PAGE}, each checked with Temporal.`,
    }),
  createdAfter: z.iso
    .datetime({ offset: true })
    .optional()
    .meta({ description: 'Only jobs created at or after this time (ISO 8601).' }),
  createdBefore: z.iso
    .datetime({ offset: true })
    .optional()
    .meta({ description: 'Only jobs created before this time (ISO 8601).' }),
  pageToken: z
    .string()
    .max(1024)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'is not a page token this service returned')
    .meta({ description: 'The `nextPageToken` of the previous page.' })
    .optional(),
});

/** Validates `input` against `schema`, or throws a 400 naming every bad field (prefixed with `where`, if given). */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, where?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems: FieldProblem[] = result.error.issues.map((issue) => ({
    field: formatPath(where, issue.path) || '(body)',
    message: issue.message,
  }));
  throw invalidRequest(problems);
}

function formatPath(where: string | undefined, path: PropertyKey[]): string {
  let out = where ?? '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  }
  return out;
}

const uploadName = z
  .string()
  .max(200)
  .superRefine((value, ctx) => {
    const problem = uploadNameProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({
    description: 'A file name for the upload (no folders); it is stored as `uploads/<id>-<name>`.',
    example: 'standup.mp3',
  });

/** Only the authenticated caller's own space; without authentication (loopback only) the request names the user. */
const ownUserId = userIdSchema.optional().meta({
  description: "Only when authentication is off: whose audio space. Otherwise always the caller's own.",
});

export const uploadAudioSchema = z.strictObject({ name: uploadName.optional(), userId: ownUserId });

export const presignUploadSchema = z.strictObject({
  name: uploadName.optional(),
  bytes: z.coerce
    .number()
    .int()
    .min(1)
    .meta({ description: 'The exact size of the file to upload; the signed URL accepts no other.' }),
  userId: ownUserId,
});

export const listAudioSchema = z.strictObject({
  prefix: z
    .string()
    .max(1024)
    .default('')
    .superRefine((value, ctx) => {
      if (value === '') return;
      const trimmed = value.endsWith('/') ? value.slice(0, -1) : value;
      try {
        if (normalizeChunkPath(trimmed) !== trimmed)
          ctx.addIssue({ code: 'custom', message: 'must be a normalized path' });
      } catch (err) {
        if (!(err instanceof InvalidAudioPathError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message.replace(/^path /, '') });
      }
    })
    .meta({ description: 'Only files whose path starts with this, e.g. `uploads/`.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Files per page.' }),
  pageToken: z
    .string()
    .max(2048)
    .regex(/^[A-Za-z0-9_-]+$/, 'is not a page token this service returned')
    .optional()
    .meta({ description: 'The `nextPageToken` of the previous page.' }),
  userId: ownUserId,
});

export const audioFileQuerySchema = z.strictObject({ userId: ownUserId });
