import type { ChunkState, TranscriptResult } from '../../workflows/contract';

const BAR_WIDTH = 12;
/** Beyond this many, retrying chunks are counted rather than named, so the line stays one line. */
const RETRYING_NAMED = 2;
/** A log gets an upload's progress in these steps: a line per chunk read would be hundreds of lines. */
const PLAIN_UPLOAD_STEP_PERCENT = 25;

/** How far the upload of one local file has got. */
export interface UploadProgress {
  /** The file as the user named it. */
  file: string;
  sent: number;
  total: number;
}

/** `[██████░░░░░░]`: the share of chunks transcribed, rounded down so the bar fills only when all are done. */
export function progressBar(done: number, total: number, width = BAR_WIDTH): string {
  const filled = total === 0 ? width : Math.floor((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/**
 * What the job's unfinished chunks are doing, from each chunk's `status`, `attempts` and `error`: the retrying
 * ones by number (from 1, as in the Web UI) with their last error, then counts of failed, transcribing and queued.
 */
export function chunkActivity(chunks: readonly ChunkState[]): string[] {
  const retrying = chunks.filter((chunk) => chunk.status === 'in_progress' && chunk.error !== null);
  const parts = retrying
    .slice(0, RETRYING_NAMED)
    .map((chunk) => `chunk ${chunk.index + 1} retrying (${plural(chunk.attempts, 'attempt')}): ${chunk.error}`);
  if (retrying.length > RETRYING_NAMED) parts.push(`${retrying.length - RETRYING_NAMED} more retrying`);
  const count = (predicate: (chunk: ChunkState) => boolean) => chunks.filter(predicate).length;
  const failed = count((chunk) => chunk.status === 'failed');
  const transcribing = count((chunk) => chunk.status === 'in_progress' && chunk.error === null);
  // `pending`: no worker has taken the chunk yet; if it stays so, no worker is polling.
  const queued = count((chunk) => chunk.status === 'pending');
  if (failed > 0) parts.push(`${failed} failed`);
  if (transcribing > 0) parts.push(`${transcribing} transcribing`);
  if (queued > 0) parts.push(`${queued} queued`);
  return parts;
}

/** `3/6 chunks` and what is going on: the chunks' activity while in progress, else how the job ended. */
export function progressText(job: TranscriptResult): string {
  const done = job.chunks.filter((chunk) => chunk.status === 'completed').length;
  const state =
    job.jobStatus === 'in_progress'
      ? chunkActivity(job.chunks).join(', ')
      : job.jobStatus === 'completed'
        ? 'completed'
        : `failed: ${job.failureReason ?? 'no reason given'}`;
  return singleLine([`${done}/${job.chunks.length} chunks`, state].filter((part) => part !== '').join('  '));
}

/** The line a terminal redraws in place: the bar, then `progressText`. */
export function progressLine(job: TranscriptResult): string {
  const done = job.chunks.filter((chunk) => chunk.status === 'completed').length;
  return `${progressBar(done, job.chunks.length)} ${progressText(job)}`;
}

/** `[██████░░░░░░] 2.4 MiB/4.8 MiB  uploading ./talk.wav`: numbers first, so a narrow terminal cuts the name. */
export function uploadProgressLine(upload: UploadProgress): string {
  const { file, sent, total } = upload;
  return `${progressBar(sent, total)} ${formatBytes(sent)}/${formatBytes(total)}  uploading ${singleLine(file)}`;
}

/** `uploading ./talk.wav: 50% of 4.8 MiB`, in steps of a quarter, for a log. */
export function uploadProgressText(upload: UploadProgress): string {
  const { file, sent, total } = upload;
  const step = PLAIN_UPLOAD_STEP_PERCENT;
  const percent = total === 0 ? 100 : Math.floor((sent / total) * (100 / step)) * step;
  return `uploading ${singleLine(file)}: ${percent}% of ${formatBytes(total)}`;
}

/** `4.8 MiB`: a size as people read it, in the binary units of `ls -h`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Cuts a line to the terminal's width: a line that wraps can no longer be redrawn in place with `\r`. */
export function fitToColumns(line: string, columns: number): string {
  const characters = [...line];
  if (characters.length <= columns) return line;
  return `${characters.slice(0, Math.max(0, columns - 1)).join('')}…`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Error text comes from the ASR and the service: a newline in it would break the redraw, and an escape sequence
 * would reach the user's terminal as a command.
 */
export function singleLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ');
}
