import { stitchTranscript } from '../../workflows/stitch-transcript';

describe('stitchTranscript', () => {
  it('when chunks are given, then they are joined in the given order with single spaces', () => {
    expect(stitchTranscript(['hello there', 'general', 'kenobi'])).toBe('hello there general kenobi');
  });

  it('when a chunk is silent (empty), then it adds nothing, not a double space', () => {
    expect(stitchTranscript(['first', '', 'second', '   '])).toBe('first second');
  });

  it('when chunks carry whitespace at their edges, then seams get exactly one space', () => {
    expect(stitchTranscript(['  one two\n', '\tthree  '])).toBe('one two three');
  });

  it('when every chunk is silent, then the transcript is empty', () => {
    expect(stitchTranscript(['', ''])).toBe('');
  });
});
