import type { ChunkState, TranscriptResult } from '../../workflows/contract';
import { ApiError, ApiUnreachableError, type AudioList } from './api-client';
import { UploadError } from './audio-upload';
import { UsageError } from './cli-args';
import { chunkActivity, formatBytes, plural, singleLine } from './progress-line';

const STATUS_WORDS: Record<TranscriptResult['jobStatus'], string> = {
  in_progress: 'in progress',
  completed: 'completed',
  failed: 'failed',
};

/** A value for `--json`: the API's JSON on one line, as a script reads it. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/**
 * `chunk 2 (talk/b.wav) failed after 3 attempts: ASR answered 500: …`; a chunk of a cancelled job may never have
 * reached the ASR, and says so.
 */
export function describeFailedChunk(chunk: ChunkState): string {
  const error = chunk.error === null ? '' : `: ${singleLine(chunk.error)}`;
  const when = chunk.attempts === 0 ? 'before any attempt' : `after ${plural(chunk.attempts, 'attempt')}`;
  return `chunk ${chunk.index + 1} (${chunk.path}) failed ${when}${error}`;
}

/** `transcribe status` for people: the job's facts, its failed chunks, and a completed job's transcript. */
export function describeJob(job: TranscriptResult): string {
  const done = job.chunks.filter((chunk) => chunk.status === 'completed').length;
  const activity = job.jobStatus === 'in_progress' ? chunkActivity(job.chunks) : [];
  const rows: [string, string][] = [
    ['job', job.jobId],
    ['status', STATUS_WORDS[job.jobStatus]],
    ['user', job.userId],
    ['chunks', singleLine([`${done}/${job.chunks.length} done`, ...activity].join(', '))],
    ['created', job.createdTime],
  ];
  if (job.completedTime !== null) rows.push(['finished', job.completedTime]);
  if (job.failureReason !== null) rows.push(['reason', singleLine(job.failureReason)]);
  const lines = rows.map(([label, value]) => `${label.padEnd(10)}${value}`);
  for (const chunk of job.chunks.filter((each) => each.status === 'failed')) {
    lines.push(`  ${describeFailedChunk(chunk)}`);
  }
  if (job.jobStatus === 'completed') lines.push('', job.transcription ?? '');
  return `${lines.join('\n')}\n`;
}

/** Why a job that was waited for failed, each failed chunk, and how to try again without losing the good chunks. */
export function describeFailure(job: TranscriptResult): string {
  const lines = [`transcribe: job ${job.jobId} failed: ${singleLine(job.failureReason ?? 'no reason given')}`];
  for (const chunk of job.chunks.filter((each) => each.status === 'failed')) {
    lines.push(`  ${describeFailedChunk(chunk)}`);
  }
  lines.push(`retry the chunks that did not complete with: transcribe retry ${job.jobId} --wait`);
  return `${lines.join('\n')}\n`;
}

/** `transcribe search` for people: one row per job, columns aligned. */
export function searchTable(results: readonly TranscriptResult[]): string {
  const withReason = results.some((job) => job.failureReason !== null);
  const header = ['JOB', 'STATUS', 'USER', 'CHUNKS', 'CREATED', 'FINISHED', ...(withReason ? ['REASON'] : [])];
  const rows = results.map((job) => [
    job.jobId,
    STATUS_WORDS[job.jobStatus],
    job.userId,
    `${job.chunks.filter((chunk) => chunk.status === 'completed').length}/${job.chunks.length}`,
    job.createdTime,
    job.completedTime ?? '-',
    ...(withReason ? [singleLine(job.failureReason ?? '')] : []),
  ]);
  return alignedTable(header, rows);
}

/** `transcribe audio ls` for people: one row per file, with its size and when an upload is removed. */
export function audioTable(files: AudioList['files']): string {
  const rows = files.map((file) => [singleLine(file.path), formatBytes(file.bytes), file.expiresTime ?? '-']);
  return alignedTable(['PATH', 'SIZE', 'EXPIRES'], rows);
}

/** `transcribe audio rm`'s line for a path that could not be removed. */
export function describeRemoveFailure(audioPath: string, err: ApiError): string {
  const what = singleLine(audioPath);
  if (err.status === 404) return `transcribe: no such audio file: ${what}\n`;
  return `transcribe: cannot remove ${what}: ${describeApiError(err)}\n`;
}

function alignedTable(header: string[], rows: string[][]): string {
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * An error for stderr. With `--json`, the API's own `{"error": {code, message, details}}`, and the same shape for
 * the CLI's own errors, with the `file` a failed upload was of; otherwise one line with the message and code
 * (never a stack trace).
 */
export function formatError(err: unknown, options: { json: boolean; apiKeyGiven: boolean }): string {
  if (options.json) {
    const file = err instanceof UploadError ? { file: err.file } : {};
    return jsonLine({ error: { ...errorFields(err), ...file } });
  }
  if (err instanceof UsageError) {
    const help = err.command === undefined ? 'transcribe --help' : `transcribe ${err.command} --help`;
    return `transcribe: ${err.message}\nrun '${help}' for usage\n`;
  }
  return `transcribe: ${describeError(err, options)}\n`;
}

function describeError(err: unknown, options: { apiKeyGiven: boolean }): string {
  if (err instanceof UploadError) return `cannot upload ${singleLine(err.file)}: ${describeError(err.cause, options)}`;
  if (err instanceof ApiError) return describeApiError(err, options);
  return singleLine(errorFields(err).message);
}

/** The API's message, then its code and status, and what would help: when to retry, or where a key goes. */
function describeApiError(err: ApiError, options: { apiKeyGiven?: boolean } = {}): string {
  const hints = [`${err.code}, HTTP ${err.status}`];
  if (err.retryAfterSeconds !== undefined) hints.push(`retry after ${err.retryAfterSeconds} s`);
  const noKey =
    err.status === 401 && options.apiKeyGiven === false
      ? '; no API key was given: pass --api-key or set TRANSCRIBE_API_KEY'
      : '';
  return `${singleLine(err.message)} (${hints.join(', ')})${noKey}`;
}

function errorFields(err: unknown): { code: string; message: string; details: unknown } {
  if (err instanceof UploadError) return { ...errorFields(err.cause), message: err.message };
  if (err instanceof ApiError) return { code: err.code, message: err.message, details: err.details };
  if (err instanceof ApiUnreachableError) {
    return { code: 'api_unreachable', message: err.message, details: { url: err.apiUrl, reason: err.reason } };
  }
  if (err instanceof UsageError) return { code: 'usage_error', message: err.message, details: null };
  return { code: 'cli_error', message: err instanceof Error ? err.message : String(err), details: null };
}
