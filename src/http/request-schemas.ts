import { z } from 'zod';
import { JOB_STATUSES } from '../../workflows/contract';
import { AudioFileError, normalizeChunkPath } from '../storage/audio-store';
import { invalidRequest, type FieldProblem } from './http-error';

/** User ids go into visibility queries and job ids, so they keep to a plain alphabet. */
const userId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]*$/, 'must be letters, digits and . _ @ : - (starting with a letter or digit)');

const chunkPath = z.string().transform((value, ctx) => {
  try {
    return normalizeChunkPath(value);
  } catch (err) {
    if (!(err instanceof AudioFileError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
});

export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export function submitJobSchema(maxChunksPerJob: number) {
  return z.strictObject({
    userId,
    audioChunkPaths: z
      .array(chunkPath)
      .min(1, 'at least one audio chunk is needed')
      .max(maxChunksPerJob, `at most ${maxChunksPerJob} audio chunks per job`),
  });
}

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .optional();

export const searchJobsSchema = z.object({
  userId,
  jobStatus: z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  pageToken: z
    .string()
    .max(4096)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'is not a page token this service returned')
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
