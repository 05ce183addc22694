import { z } from 'zod';
import { JOB_STATUSES } from '../../workflows/contract';
import { USER_ID_PATTERN } from '../auth/principal';
import { AudioFileError, normalizeChunkPath } from '../storage/audio-store';
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
  .meta({ description: 'Path of an audio file, relative to the audio root.', example: 'example/part-1.wav' })
  .transform((value, ctx) => {
    try {
      return normalizeChunkPath(value);
    } catch (err) {
      if (!(err instanceof AudioFileError)) throw err;
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
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Jobs per page.' }),
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
