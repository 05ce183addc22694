import { z } from 'zod';
import type { TranscriptSegment } from '../../workflows/contract';
import { AsrRejectedError, AsrUnavailableError } from './asr-errors';
import { multipartBody } from './multipart-body';

/** One chunk's transcription; segments and duration only when the ASR gives them. */
export interface Transcription {
  text: string;
  segments: TranscriptSegment[] | null;
  durationSeconds: number | null;
}

/** The audio of one chunk as the ASR gets it: a name, and bytes streamed from the store. */
export interface AudioToTranscribe {
  name: string;
  size: number;
  stream(): ReadableStream<Uint8Array>;
}

/** What the chunk activity needs of an ASR; {@link AsrClient} is the real one. */
export interface Transcriber {
  transcribe(audio: AudioToTranscribe, options?: { signal?: AbortSignal }): Promise<Transcription>;
}

/** `verbose_json` adds timed segments (for subtitles); `json` is for ASRs that cannot give them. */
export type AsrResponseFormat = 'verbose_json' | 'json';

export interface AsrClientOptions {
  /** Base URL; requests go to `{url}/v1/audio/transcriptions`. */
  url: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
  responseFormat: AsrResponseFormat;
}

const MAX_RETRY_AFTER_MS = 5 * 60_000;
const MAX_ERROR_TEXT = 300;

/**
 * Client of an OpenAI-compatible transcription endpoint (whisper.cpp's server, faster-whisper servers, vLLM,
 * hosted APIs). Audio is streamed from the store as the request is sent; connections are kept alive by Node's global fetch agent.
 * Failures come out as {@link AsrUnavailableError} (retry) or {@link AsrRejectedError} (don't).
 */
export class AsrClient implements Transcriber {
  private readonly endpoint: string;

  constructor(private readonly options: AsrClientOptions) {
    this.endpoint = new URL(
      'v1/audio/transcriptions',
      options.url.endsWith('/') ? options.url : `${options.url}/`,
    ).href;
  }

  async transcribe(audio: AudioToTranscribe, { signal }: { signal?: AbortSignal } = {}): Promise<Transcription> {
    const fields: [string, string][] = [
      ['model', this.options.model],
      ['response_format', this.options.responseFormat],
    ];
    if (this.options.responseFormat === 'verbose_json') fields.push(['timestamp_granularities[]', 'segment']);
    const form = multipartBody(fields, {
      field: 'file',
      name: audio.name,
      size: audio.size,
      stream: () => audio.stream(),
    });
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': form.contentType,
      'content-length': String(form.length),
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        body: form.body,
        headers,
        signal: combined,
        duplex: 'half',
      });
      body = await response.text();
    } catch (err) {
      // The caller's own abort (a cancelled activity) is not an ASR failure: let it through unchanged.
      if (signal?.aborted) throw err;
      if (timeout.aborted) throw new AsrUnavailableError(`ASR did not answer within ${this.options.timeoutMs} ms`);
      throw new AsrUnavailableError(`ASR unreachable: ${networkErrorText(err)}`);
    }
    return this.readAnswer(response, body);
  }

  private readAnswer(response: Response, body: string): Transcription {
    const { status } = response;
    if (status >= 200 && status < 300) {
      const transcription = parseTranscript(body);
      if (transcription === undefined) {
        throw new AsrUnavailableError(`ASR answered ${status} without a transcript`, { status });
      }
      return transcription;
    }
    const reason = `ASR answered ${status}${errorText(body)}`;
    if (status === 408 || status === 429 || status >= 500) {
      throw new AsrUnavailableError(reason, {
        status,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      });
    }
    if (status >= 400) throw new AsrRejectedError(reason, status);
    throw new AsrUnavailableError(reason, { status });
  }
}

const segmentSchema = z.object({ start: z.number().min(0), end: z.number().min(0), text: z.string() });
/** Only `text` is required; segments or a duration that do not parse are dropped, not fatal. */
const answerSchema = z.object({
  text: z.string(),
  segments: z.array(segmentSchema).optional().catch(undefined),
  duration: z.number().positive().optional().catch(undefined),
});

function parseTranscript(body: string): Transcription | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const answer = answerSchema.safeParse(parsed);
  if (!answer.success) return undefined;
  const { text, segments, duration } = answer.data;
  return {
    text,
    segments:
      segments?.map((segment) => ({
        startSeconds: segment.start,
        endSeconds: Math.max(segment.start, segment.end),
        text: segment.text.trim(),
      })) ?? null,
    durationSeconds: duration ?? null,
  };
}

/** The ASR's own error message, if it gave one, for the chunk's error. */
function errorText(body: string): string {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const candidate = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof candidate === 'string') message = candidate;
  } catch {
    // not JSON: keep the raw text
  }
  if (message.length === 0) return '';
  return `: ${message.length > MAX_ERROR_TEXT ? `${message.slice(0, MAX_ERROR_TEXT)}…` : message}`;
}

/** `Retry-After` as seconds or an HTTP date, capped so a broken header cannot park a chunk for hours. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(Math.round(ms), MAX_RETRY_AFTER_MS);
}

function networkErrorText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
