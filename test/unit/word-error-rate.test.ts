import { normalizeWords, wordErrorRate } from '../../eval/word-error-rate';

describe('word error rate', () => {
  it('when the transcript matches but for case and punctuation, then there is no error', () => {
    expect(wordErrorRate('The quick brown fox.', 'the quick, brown fox')).toEqual({ errors: 0, words: 4, wer: 0 });
  });

  it('when words are substituted, dropped and inserted, then each counts once against the reference length', () => {
    expect(wordErrorRate('the quick brown fox jumps', 'a quick fox jumps high')).toMatchObject({ errors: 3, words: 5 });
  });

  it('when hyphenated or apostrophed words appear, then they compare as the words they are', () => {
    expect(normalizeWords("Don't re-read it!")).toEqual(["don't", 're', 'read', 'it']);
  });
});
