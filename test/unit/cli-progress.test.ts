import {
  fitToColumns,
  formatBytes,
  progressBar,
  progressLine,
  progressText,
  uploadProgressLine,
  uploadProgressText,
} from '../../src/cli/progress-line';
import { ProgressRenderer, progressModeFor } from '../../src/cli/progress-renderer';
import { jobWith } from '../support/cli-jobs';

const done = { status: 'completed', attempts: 1, transcript: 'words' } as const;

describe('the CLI progress line', () => {
  it('when 3 of 6 chunks are done and one is retrying, then the bar is half full and names it with its error', () => {
    const job = jobWith([
      done,
      done,
      done,
      { status: 'in_progress', attempts: 2, error: 'ASR answered 503' },
      { status: 'in_progress', attempts: 1 },
      {},
    ]);
    expect(progressLine(job)).toBe(
      '[██████░░░░░░] 3/6 chunks  chunk 4 retrying (2 attempts): ASR answered 503, 1 transcribing, 1 queued',
    );
  });

  it('when many chunks are retrying, then two are named and the rest counted', () => {
    const retrying = { status: 'in_progress', attempts: 1, error: 'ASR unreachable' } as const;
    expect(progressText(jobWith([retrying, retrying, retrying, retrying]))).toBe(
      '0/4 chunks  chunk 1 retrying (1 attempt): ASR unreachable, chunk 2 retrying (1 attempt): ASR unreachable, 2 more retrying',
    );
  });

  it('when the job has ended, then the line says how, and the bar is full only when every chunk is done', () => {
    expect(progressLine(jobWith([done, done], { jobStatus: 'completed' }))).toBe(
      '[████████████] 2/2 chunks  completed',
    );
    const failed = jobWith([done, { status: 'failed', attempts: 3, error: 'ASR answered 500' }, done], {
      jobStatus: 'failed',
      failureReason: 'chunk 2 (talk/part-2.wav) failed',
    });
    expect(progressLine(failed)).toBe('[████████░░░░] 2/3 chunks  failed: chunk 2 (talk/part-2.wav) failed');
    expect(progressBar(11, 12)).toBe('[███████████░]');
  });

  it('when an error carries newlines or escape sequences, then the line stays one line without them', () => {
    const job = jobWith([{ status: 'in_progress', attempts: 1, error: 'bad\ngateway\x1b[2J' }]);
    expect(progressText(job)).toBe('0/1 chunks  chunk 1 retrying (1 attempt): bad gateway [2J');
  });

  it('when a line is wider than the terminal, then it is cut with an ellipsis, counting the bar as one column each', () => {
    expect(fitToColumns('[██████] 3/6 chunks', 12)).toBe('[██████] 3/…');
    expect(fitToColumns('short', 12)).toBe('short');
  });
});

describe('the CLI upload progress', () => {
  const MiB = 1024 * 1024;

  it('when part of a file is sent, then the bar shows the bytes sent of the total before the file name', () => {
    expect(uploadProgressLine({ file: './talk.mp3', sent: 2.4 * MiB, total: 4.8 * MiB })).toBe(
      '[██████░░░░░░] 2.4 MiB/4.8 MiB  uploading ./talk.mp3',
    );
  });

  it('when the plain line is asked for, then it moves in quarters, so a log gets at most five lines per file', () => {
    const at = (sent: number) => uploadProgressText({ file: './talk.mp3', sent, total: 4 * MiB });
    expect([0, 0.9, 1, 2.5, 3.99, 4].map((sent) => at(sent * MiB))).toEqual([
      'uploading ./talk.mp3: 0% of 4.0 MiB',
      'uploading ./talk.mp3: 0% of 4.0 MiB',
      'uploading ./talk.mp3: 25% of 4.0 MiB',
      'uploading ./talk.mp3: 50% of 4.0 MiB',
      'uploading ./talk.mp3: 75% of 4.0 MiB',
      'uploading ./talk.mp3: 100% of 4.0 MiB',
    ]);
    expect(uploadProgressText({ file: 'empty.wav', sent: 0, total: 0 })).toBe('uploading empty.wav: 100% of 0 B');
  });

  it('when sizes are shown, then bytes stay bytes below a KiB and take one decimal above', () => {
    expect([0, 1023, 1024, 1536, 5 * MiB, 3 * 1024 * MiB].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '5.0 MiB',
      '3.0 GiB',
    ]);
  });
});

describe('the CLI progress renderer', () => {
  function stream(isTTY: boolean, columns = 200) {
    const writes: string[] = [];
    return { writes, isTTY, columns, write: (text: string) => writes.push(text) };
  }
  const first = jobWith([done, {}]);
  const second = jobWith([done, done], { jobStatus: 'completed' });

  it('when stderr is a terminal, then one line is redrawn in place, only when it changes, and ended with a newline', () => {
    const terminal = stream(true);
    const renderer = new ProgressRenderer(terminal, progressModeFor(terminal, { json: false, term: 'xterm' }));
    renderer.update(first);
    renderer.update(first);
    renderer.update(second);
    renderer.end();
    expect(terminal.writes).toEqual([
      '\r\x1b[2K[██████░░░░░░] 1/2 chunks  1 queued',
      '\r\x1b[2K[████████████] 2/2 chunks  completed',
      '\n',
    ]);
  });

  it('when stderr is a pipe, then each change is one plain line, without bar or redraws', () => {
    const pipe = stream(false);
    const renderer = new ProgressRenderer(pipe, progressModeFor(pipe, { json: false, term: 'xterm' }));
    renderer.update(first);
    renderer.update(first);
    renderer.update(second);
    renderer.end();
    expect(pipe.writes).toEqual(['1/2 chunks  1 queued\n', '2/2 chunks  completed\n']);
  });

  it('when --json is given or the terminal is dumb, then there is no progress, or no redraw', () => {
    expect(progressModeFor(stream(true), { json: true, term: 'xterm' })).toBe('off');
    expect(progressModeFor(stream(true), { json: false, term: 'dumb' })).toBe('lines');
    const terminal = stream(true);
    const renderer = new ProgressRenderer(terminal, 'off');
    renderer.update(first);
    renderer.end();
    expect(terminal.writes).toEqual([]);
  });

  it('when an upload is shown, then a terminal gets its bar redrawn in place and a pipe its quarter lines', () => {
    const terminal = stream(true);
    const live = new ProgressRenderer(terminal, 'live');
    const pipe = stream(false);
    const lines = new ProgressRenderer(pipe, 'lines');
    for (const sent of [0, 1000, 2000, 4000]) {
      live.updateUpload({ file: 'a.wav', sent, total: 4000 });
      lines.updateUpload({ file: 'a.wav', sent, total: 4000 });
    }
    live.end();
    lines.end();
    expect(terminal.writes).toEqual([
      '\r\x1b[2K[░░░░░░░░░░░░] 0 B/3.9 KiB  uploading a.wav',
      '\r\x1b[2K[███░░░░░░░░░] 1000 B/3.9 KiB  uploading a.wav',
      '\r\x1b[2K[██████░░░░░░] 2.0 KiB/3.9 KiB  uploading a.wav',
      '\r\x1b[2K[████████████] 3.9 KiB/3.9 KiB  uploading a.wav',
      '\n',
    ]);
    expect(pipe.writes).toEqual([
      'uploading a.wav: 0% of 3.9 KiB\n',
      'uploading a.wav: 25% of 3.9 KiB\n',
      'uploading a.wav: 50% of 3.9 KiB\n',
      'uploading a.wav: 100% of 3.9 KiB\n',
    ]);
  });

  it('when the terminal is narrow, then the live line is cut one column short of its width', () => {
    const terminal = stream(true, 20);
    new ProgressRenderer(terminal, 'live').update(first);
    expect(terminal.writes).toEqual(['\r\x1b[2K[██████░░░░░░] 1/2…']);
  });
});
