import { HttpError } from '../../src/api/http-error';
import { parseRequest, searchJobsSchema, submitJobSchema } from '../../src/api/request-schemas';

const submit = submitJobSchema(24);

function problemsOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return (err as HttpError).details as { field: string; message: string }[];
  }
  throw new Error('expected a validation error');
}

describe('POST /transcribe body validation', () => {
  it('when the body is valid, then paths come back normalized', () => {
    expect(parseRequest(submit, { userId: 'alice', audioChunkPaths: ['a/./b.wav', 'c\\d.wav'] })).toEqual({
      userId: 'alice',
      audioChunkPaths: ['a/b.wav', 'c/d.wav'],
    });
  });

  it('when the chunks are missing, then the field is named; the user id may be left to the credentials', () => {
    const fields = problemsOf(() => parseRequest(submit, {})).map((problem) => problem.field);
    expect(fields).toEqual(['audioChunkPaths']);
    expect(parseRequest(submit, { audioChunkPaths: ['a.wav'] })).toEqual({ audioChunkPaths: ['a.wav'] });
  });

  it('when fields have the wrong types, then the field is named', () => {
    expect(problemsOf(() => parseRequest(submit, { userId: 7, audioChunkPaths: ['a.wav'] }))[0]?.field).toBe('userId');
    expect(problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: 'a.wav' }))[0]?.field).toBe(
      'audioChunkPaths',
    );
    expect(problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: [1] }))[0]?.field).toBe(
      'audioChunkPaths[0]',
    );
  });

  it('when there are no chunks or more than 24, then it is refused with the limit', () => {
    expect(problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: [] }))[0]?.message).toMatch(
      /at least one/,
    );
    const tooMany = Array.from({ length: 25 }, (_, index) => `c${index}.wav`);
    expect(problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: tooMany }))[0]?.message).toMatch(
      /at most 24/,
    );
  });

  it.each([
    ['../secret.wav', /leaves your audio space/],
    ['a/../../secret.wav', /leaves your audio space/],
    ['/etc/passwd', /relative/],
    ['C:\\audio.wav', /relative/],
    ['a\u0000b.wav', /control characters/],
    ['a\u0085b.wav', /control characters/],
    ['a\u2028b.wav', /control characters/],
    ['cafe\u0301.wav', /NFC/],
    ['bad\ud800.wav', /well-formed/],
    ['', /empty/],
    ['folder/', /folder/],
  ])('when a path is %j, then it is refused', (path, reason) => {
    const [problem] = problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: ['ok.wav', path] }));
    expect(problem?.field).toBe('audioChunkPaths[1]');
    expect(problem?.message).toMatch(reason);
  });

  it('when the user id has characters outside its alphabet, then it is refused', () => {
    expect(problemsOf(() => parseRequest(submit, { userId: "a' OR 1=1", audioChunkPaths: ['a.wav'] }))[0]?.field).toBe(
      'userId',
    );
  });

  it('when the body has an unknown field, then it is named (a typo is not silently ignored)', () => {
    const [problem] = problemsOf(() => parseRequest(submit, { userId: 'u', audioChunkPaths: ['a.wav'], usrId: 'x' }));
    expect(problem?.message).toMatch(/usrId/);
  });
});

describe('GET /transcript/search query validation', () => {
  it('when only user and status are given, then the limit defaults to 20', () => {
    expect(parseRequest(searchJobsSchema, { userId: 'alice', jobStatus: 'completed' })).toEqual({
      userId: 'alice',
      jobStatus: 'completed',
      limit: 20,
    });
  });

  it('when the status is unknown, the user id malformed or a parameter unknown, then each is named', () => {
    const fields = problemsOf(() =>
      parseRequest(searchJobsSchema, { userId: 'a b', jobStatus: 'done', status: 'x' }),
    ).map((p) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['userId', 'jobStatus']));
    expect(
      problemsOf(() => parseRequest(searchJobsSchema, { jobStatus: 'done', status: 'x' }))
        .map((p) => p.message)
        .join(),
    ).toMatch(/status/);
  });

  it('when a parameter is repeated, then it is refused rather than one copy picked', () => {
    expect(
      problemsOf(() => parseRequest(searchJobsSchema, { userId: ['a', 'b'], jobStatus: 'failed' }))[0]?.field,
    ).toBe('userId');
  });

  it('when the limit is outside 1 to 100, then it is refused', () => {
    for (const limit of ['0', '101', 'ten']) {
      expect(
        problemsOf(() => parseRequest(searchJobsSchema, { userId: 'u', jobStatus: 'failed', limit }))[0]?.field,
      ).toBe('limit');
    }
  });
});
