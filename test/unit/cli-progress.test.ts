import { fitToColumns, progressBar, progressLine, progressText } from '../../src/cli/progress-line';
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

  it('when the terminal is narrow, then the live line is cut one column short of its width', () => {
    const terminal = stream(true, 20);
    new ProgressRenderer(terminal, 'live').update(first);
    expect(terminal.writes).toEqual(['\r\x1b[2K[██████░░░░░░] 1/2…']);
  });
});
