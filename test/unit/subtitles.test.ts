import { initialChunkStates, type ChunkState } from '../../workflows/contract';
import { jobCues, renderSubtitles } from '../../src/jobs/subtitles';

function completed(...chunks: Pick<ChunkState, 'transcript' | 'durationSeconds' | 'segments'>[]): ChunkState[] {
  return initialChunkStates(chunks.map((_, index) => `c${index}.wav`)).map((chunk, index) => ({
    ...chunk,
    ...chunks[index],
    status: 'completed',
  }));
}

const segment = (startSeconds: number, endSeconds: number, text: string) => ({ startSeconds, endSeconds, text });

describe('subtitles of a job', () => {
  const job = completed(
    {
      transcript: 'Good morning. Let us begin.',
      durationSeconds: 10,
      segments: [segment(0.5, 2, 'Good morning.'), segment(3, 4.25, 'Let us begin.')],
    },
    { transcript: '', durationSeconds: 5, segments: [] },
    { transcript: 'First item & <budget>', durationSeconds: 8, segments: [segment(1, 3.5, 'First item & <budget>')] },
  );

  it("when chunks follow each other, then each chunk's times are shifted by the durations of the chunks before it", () => {
    expect(jobCues(job)).toEqual([
      segment(0.5, 2, 'Good morning.'),
      segment(3, 4.25, 'Let us begin.'),
      segment(16, 18.5, 'First item & <budget>'),
    ]);
  });

  it('when rendered as SRT, then cues are numbered with comma milliseconds', () => {
    expect(renderSubtitles(job, 'srt')).toBe(
      [
        '1\n00:00:00,500 --> 00:00:02,000\nGood morning.\n',
        '2\n00:00:03,000 --> 00:00:04,250\nLet us begin.\n',
        '3\n00:00:16,000 --> 00:00:18,500\nFirst item & <budget>\n',
      ].join('\n'),
    );
  });

  it('when rendered as WebVTT, then it has the header, dot milliseconds and escaped markup', () => {
    expect(renderSubtitles(job, 'vtt')).toBe(
      [
        'WEBVTT\n',
        '00:00:00.500 --> 00:00:02.000\nGood morning.\n',
        '00:00:03.000 --> 00:00:04.250\nLet us begin.\n',
        '00:00:16.000 --> 00:00:18.500\nFirst item &amp; &lt;budget&gt;\n',
      ].join('\n'),
    );
  });

  it('when the ASR gave no segments, then the chunk is one cue over its whole length', () => {
    const cues = jobCues(
      completed(
        { transcript: 'one', durationSeconds: 4, segments: null },
        { transcript: 'two', durationSeconds: 6, segments: null },
      ),
    );
    expect(cues).toEqual([segment(0, 4, 'one'), segment(4, 10, 'two')]);
  });

  it("when a segment overruns its chunk's length, then it ends with the chunk instead of overlapping the next", () => {
    const cues = jobCues(
      completed(
        { transcript: 'long', durationSeconds: 5, segments: [segment(4, 5.4, 'long')] },
        { transcript: 'next', durationSeconds: 5, segments: [segment(0, 1, 'next')] },
      ),
    );
    expect(cues).toEqual([segment(4, 5, 'long'), segment(5, 6, 'next')]);
  });

  it('when a cue is long or the job runs past an hour, then lines wrap at 42 characters and hours count up', () => {
    const text = 'the quick brown fox jumps over the lazy dog and keeps on running far away';
    const srt = renderSubtitles(
      completed(
        { transcript: '', durationSeconds: 3600, segments: [] },
        { transcript: text, durationSeconds: 9, segments: [segment(1, 8, text)] },
      ),
      'srt',
    );
    const lines = srt.trimEnd().split('\n').slice(2);
    expect(lines.every((line) => line.length <= 42)).toBe(true);
    expect(lines.join(' ')).toBe(text);
    expect(srt).toContain('01:00:01,000 --> 01:00:08,000');
  });

  it('when the job has no speech at all, then the WebVTT file is the header alone', () => {
    expect(renderSubtitles(completed({ transcript: '', durationSeconds: 3, segments: [] }), 'vtt')).toBe('WEBVTT\n');
  });
});
