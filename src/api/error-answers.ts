import { isGrpcServiceError } from '@temporalio/client';
import { AuthenticationError, wwwAuthenticate } from '../auth/auth-errors';
import { ChunkFilesRejectedError } from '../jobs/chunk-files';
import { IdempotencyConflictError } from '../jobs/idempotency';
import { AsrBacklogFullError, AsrShareUsedError, TooManyJobsInFlightError } from '../jobs/job-admission';
import { JobNotFailedError } from '../jobs/retry-plan';
import { InvalidPageTokenError } from '../jobs-database/page-token';
import { JobNotFoundError } from '../jobs/transcription-jobs';
import { audioFilesRejected } from './audio-errors';
import { HttpError } from './http-error';

/** gRPC status codes that mean Temporal could not answer in time, or at all, rather than that the request is bad. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/**
 * The answer for any error a request ends with. Domain errors keep their meaning (a missing job is a 404, a quota
 * a 429 with Retry-After); anything unknown is an opaque 500, its cause left for the log.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const known = domainAnswer(err);
  if (known) return known;
  if (isGrpcServiceError(err) && [GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE].includes(Number(err.code))) {
    return new HttpError(503, 'temporal_unavailable', 'the job store did not answer in time; try again shortly', null, {
      'Retry-After': '2',
    });
  }
  // Koa's own errors (e.g. 405 from allowedMethods) carry a status and say whether their message is safe to show.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    const headers = (err as { headers?: Record<string, string> }).headers ?? {};
    return new HttpError(status, 'http_error', (err as Error).message, null, headers);
  }
  return new HttpError(500, 'internal', 'internal error');
}

/** Whether an answer with this error is the service's own trouble, worth a line in the error log. */
export function isServiceFault(err: unknown, answer: HttpError): boolean {
  return answer.status >= 500 && !(err instanceof AsrBacklogFullError);
}

function domainAnswer(err: unknown): HttpError | undefined {
  if (err instanceof AuthenticationError) {
    return new HttpError(401, 'unauthenticated', err.message, null, { 'WWW-Authenticate': wwwAuthenticate(err) });
  }
  if (err instanceof JobNotFoundError) return new HttpError(404, 'job_not_found', err.message, { jobId: err.jobId });
  if (err instanceof ChunkFilesRejectedError) {
    return audioFilesRejected(
      err.problems.map(({ index, message, problem }) => ({ field: `audioChunkPaths[${index}]`, message, problem })),
    );
  }
  if (err instanceof JobNotFailedError) {
    return new HttpError(409, 'job_not_failed', err.message, { jobId: err.jobId });
  }
  if (err instanceof IdempotencyConflictError) {
    return new HttpError(409, 'idempotency_conflict', err.message, { jobId: err.jobId });
  }
  if (err instanceof InvalidPageTokenError) {
    return new HttpError(400, 'invalid_request', err.message, [{ field: 'pageToken', message: err.message }]);
  }
  if (err instanceof TooManyJobsInFlightError) {
    return new HttpError(429, 'too_many_jobs', err.message, { limit: err.limit }, retryAfter(err.retryAfterSeconds));
  }
  if (err instanceof AsrShareUsedError) {
    return new HttpError(429, 'asr_share_used', err.message, { share: err.share }, retryAfter(err.retryAfterSeconds));
  }
  if (err instanceof AsrBacklogFullError) {
    return new HttpError(503, 'backlog_full', err.message, null, retryAfter(err.retryAfterSeconds));
  }
  return undefined;
}

function retryAfter(seconds: number): Record<string, string> {
  return { 'Retry-After': String(seconds) };
}
