import type { TranscriptResult } from '../../workflows/contract';
import {
  fitToColumns,
  progressLine,
  progressText,
  uploadProgressLine,
  uploadProgressText,
  type UploadProgress,
} from './progress-line';

/** Where progress goes (stderr, so stdout carries only the transcript): what `process.stderr` offers. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `live`: one line redrawn in place, on a terminal; `lines`: a plain line per change, for logs; `off`: `--json`. */
export type ProgressMode = 'live' | 'lines' | 'off';

export function progressModeFor(
  stream: ProgressStream,
  options: { json: boolean; term: string | undefined },
): ProgressMode {
  if (options.json) return 'off';
  return stream.isTTY === true && options.term !== 'dumb' ? 'live' : 'lines';
}

/** Move to the line's start and erase it: the redraw needs nothing more from the terminal. */
const REDRAW = '\r\x1b[2K';
const FALLBACK_COLUMNS = 80;

/** Shows a job's or an upload's progress as it changes; `end()` before writing anything else to the same stream. */
export class ProgressRenderer {
  private last: string | undefined;
  private open = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly mode: ProgressMode,
  ) {}

  update(job: TranscriptResult): void {
    this.show(progressLine(job), progressText(job));
  }

  updateUpload(upload: UploadProgress): void {
    this.show(uploadProgressLine(upload), uploadProgressText(upload));
  }

  /** `live` is the line redrawn on a terminal, `plain` the line for a log. */
  private show(live: string, plain: string): void {
    if (this.mode === 'off') return;
    if (this.mode === 'lines') {
      if (plain !== this.last) this.stream.write(`${plain}\n`);
      this.last = plain;
      return;
    }
    // One column short of the width: writing the last column makes some terminals wrap at once.
    const line = fitToColumns(live, (this.stream.columns ?? FALLBACK_COLUMNS) - 1);
    if (line !== this.last) this.stream.write(`${REDRAW}${line}`);
    this.last = line;
    this.open = true;
  }

  /** Ends a live line, so what comes next starts on a line of its own. */
  end(): void {
    if (this.open) this.stream.write('\n');
    this.open = false;
  }
}
