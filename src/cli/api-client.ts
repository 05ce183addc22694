import { z } from 'zod';
import type { JobStatus, TranscriptResult } from '../../workflows/contract';
import type {
  audioListSchema,
  retryJobResponseSchema,
  searchJobsResponseSchema,
  submitJobResponseSchema,
  uploadedAudioSchema,
} from '../api/response-schemas';
import type { TranscriptFormat } from './cli-args';
import type { ConnectionSettings } from './connection-settings';

export type { TranscriptResult };
export type SubmitJobResponse = z.infer<typeof submitJobResponseSchema>;
export type RetryJobResponse = z.infer<typeof retryJobResponseSchema>;
export type SearchJobsResponse = z.infer<typeof searchJobsResponseSchema>;
export type UploadedAudio = z.infer<typeof uploadedAudioSchema>;
export type AudioList = z.infer<typeof audioListSchema>;

/** The API's own answer budget is 13 s; past this much more, something between here and there is stuck. */
const REQUEST_TIMEOUT_MS = 30_000;
/** An upload gets time in proportion to its size on top; a link slower than this counts as stuck. */
const SLOWEST_UPLOAD_BYTES_PER_SECOND = 16 * 1024;
/** An API that refuses an upload on its headers answers at once; one still silent after this is reading it. */

/** The API answered with an error: its status, code, message and details, as `{"error": …}` carried them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** From `Retry-After`, on a 429 or 503. */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** No HTTP answer at all: refused, unresolvable, reset, or too slow. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly apiUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the API at ${apiUrl}: ${reason} (set --api-url or TRANSCRIBE_API_URL)`);
    this.name = 'ApiUnreachableError';
  }
}

/** Loose on purpose: a newer API may add fields, and the message and code are what the user needs. */
const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  /** The `?wait=` long-poll, added to the time allowed for an answer. */
  waitSeconds?: number;
  /** A raw request body streamed as it is read, with its exact length. */
  upload?: { body: ReadableStream<Uint8Array>; bytes: number };
}

/** A client of the transcription HTTP API (docs/api.md; the OpenAPI document is the reference), on the global `fetch`. */
export class TranscriptionApiClient {
  constructor(
    private readonly settings: ConnectionSettings,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** `POST /transcribe`: the paths are in the user's audio space (uploads, or files placed there). */
  submit(
    job: { audioChunkPaths: string[]; userId?: string; callbackUrl?: string },
    options: { idempotencyKey?: string } = {},
  ): Promise<SubmitJobResponse> {
    return this.json('POST', '/transcribe', { body: job, idempotencyKey: options.idempotencyKey });
  }

  /** `GET /transcript/{jobId}`, long-polling up to `wait` seconds while the job is in progress. */
  getJob(jobId: string, options: { wait?: number } = {}): Promise<TranscriptResult> {
    return this.json('GET', jobRoute(jobId), { query: { wait: options.wait }, waitSeconds: options.wait });
  }

  /** A completed job's transcript as text or subtitles, exactly as the API renders it. */
  async getTranscript(jobId: string, format: Exclude<TranscriptFormat, 'json'>): Promise<string> {
    return (await this.send('GET', jobRoute(jobId), { query: { format } })).text;
  }

  /** `DELETE /transcript/{jobId}`: answers the job as it was when the cancel was asked for. */
  cancel(jobId: string): Promise<TranscriptResult> {
    return this.json('DELETE', jobRoute(jobId));
  }

  /** `POST /transcript/{jobId}/retry`: a new job that carries over the chunks the failed one transcribed. */
  retry(jobId: string, options: { callbackUrl?: string; idempotencyKey?: string } = {}): Promise<RetryJobResponse> {
    const body = options.callbackUrl === undefined ? undefined : { callbackUrl: options.callbackUrl };
    return this.json('POST', `${jobRoute(jobId)}/retry`, { body, idempotencyKey: options.idempotencyKey });
  }

  /** `GET /transcript/search`: one page of a user's jobs in one status. */
  search(request: {
    jobStatus: JobStatus;
    userId?: string;
    limit?: number;
    pageToken?: string;
  }): Promise<SearchJobsResponse> {
    return this.json('GET', '/transcript/search', { query: request });
  }

  /** `POST /audio`: streams a file as the raw body; the answer's `path` is what a job names. */
  async uploadAudio(upload: {
    body: ReadableStream<Uint8Array>;
    bytes: number;
    name?: string;
    userId?: string;
  }): Promise<UploadedAudio> {
    const { body, bytes, name, userId } = upload;
    // A refusal (413, 401) comes while the body is still being sent; the API reads and drops the rest rather than
    // reset the connection, so the answer arrives intact.
    return this.json('POST', '/audio', { query: { name, userId }, upload: { body, bytes } });
  }

  /** `GET /audio`: one page of the files in a user's audio space. */
  listAudio(request: { prefix?: string; userId?: string; limit?: number; pageToken?: string }): Promise<AudioList> {
    return this.json('GET', '/audio', { query: request });
  }

  /** `DELETE /audio/{path}`: a file the user does not have is a 404 `audio_not_found`. */
  async removeAudio(audioPath: string, options: { userId?: string } = {}): Promise<void> {
    await this.send('DELETE', audioRoute(audioPath), { query: { userId: options.userId } });
  }

  private async json<T>(method: string, route: string, options: RequestOptions = {}): Promise<T> {
    const { status, text } = await this.send(method, route, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        status,
        'invalid_answer',
        `the API answered ${status} with a body that is not JSON`,
        null,
        undefined,
      );
    }
  }

  private async send(
    method: string,
    route: string,
    options: RequestOptions,
  ): Promise<{ status: number; text: string }> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.set(name, String(value));
    }
    const url = `${this.settings.apiUrl}${route}${query.size > 0 ? `?${query.toString()}` : ''}`;
    const headers: Record<string, string> = {};
    if (this.settings.apiKey !== undefined) headers.authorization = `Bearer ${this.settings.apiKey}`;
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    let body: RequestInit['body'];
    if (options.upload !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      // Without a length the body goes chunked, and the API could refuse an oversized file only once it is sent.
      headers['content-length'] = String(options.upload.bytes);
      body = options.upload.body;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const uploadMs = Math.ceil(((options.upload?.bytes ?? 0) / SLOWEST_UPLOAD_BYTES_PER_SECOND) * 1000);
    const timeoutMs = REQUEST_TIMEOUT_MS + (options.waitSeconds ?? 0) * 1000 + uploadMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    // Node's fetch sends a stream body only when told it may answer before the body is sent.
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers,
      body,
      signal: timeout,
      ...(options.upload === undefined ? {} : { duplex: 'half' }),
    };
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, init);
      text = await response.text();
    } catch (err) {
      throw new ApiUnreachableError(this.settings.apiUrl, unreachableReason(err, timeoutMs));
    }
    if (!response.ok) throw apiErrorOf(response, text);
    return { status: response.status, text };
  }
}

function jobRoute(jobId: string): string {
  return `/transcript/${encodeURIComponent(jobId)}`;
}

/** The slashes of an audio path are the route's own; everything between them is encoded. */
function audioRoute(audioPath: string): string {
  return `/audio/${audioPath.split('/').map(encodeURIComponent).join('/')}`;
}

/** The API's `{"error": …}`, or for an answer from something else in between (a proxy's 502), its status. */
export function apiErrorOf(response: Pick<Response, 'status' | 'statusText' | 'headers'>, text: string): ApiError {
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  const retryAfterSeconds = Number.isFinite(retryAfter) ? retryAfter : undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = errorBodySchema.safeParse(body);
  if (parsed.success) {
    const { code, message, details } = parsed.data.error;
    return new ApiError(response.status, code, message, details ?? null, retryAfterSeconds);
  }
  const statusText = response.statusText ? ` ${response.statusText}` : '';
  return new ApiError(
    response.status,
    `http_${response.status}`,
    `the API answered ${response.status}${statusText}`,
    null,
    retryAfterSeconds,
  );
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
};

/** undici hides the socket's error under `cause`, and for a host with several addresses under `cause.errors`. */
function unreachableReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code !== undefined) return REASONS[code] ?? code;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}
