import { ApiError, ApiUnreachableError, apiErrorOf } from '../../src/cli/api-client';
import { UploadError } from '../../src/cli/audio-upload';
import { UsageError } from '../../src/cli/cli-args';
import {
  audioTable,
  describeFailure,
  describeJob,
  describeRemoveFailure,
  formatError,
  searchTable,
} from '../../src/cli/output-format';
import { jobWith } from '../support/cli-jobs';

const done = (transcript: string) => ({ status: 'completed', attempts: 1, transcript }) as const;
const broken = { status: 'failed', attempts: 3, error: 'ASR answered 500: simulated permanent ASR failure' } as const;

describe('the CLI output for people', () => {
  it('when a completed job is shown, then its facts come first and its transcript last', () => {
    const job = jobWith([done('hello'), done('world')], {
      jobStatus: 'completed',
      completedTime: '2026-11-24T09:39:58.532Z',
      transcription: 'hello world',
    });
    expect(describeJob(job)).toBe(
      [
        'job       job-01test',
        'status    completed',
        'user      alice',
        'chunks    2/2 done',
        'created   2026-11-24T09:39:47.892Z',
        'finished  2026-11-24T09:39:58.532Z',
        '',
        'hello world',
        '',
      ].join('\n'),
    );
  });

  it('when a job is in progress, then its chunks line says what the unfinished chunks are doing', () => {
    const job = jobWith([done('a'), { status: 'in_progress', attempts: 2, error: 'ASR answered 503' }]);
    expect(describeJob(job)).toContain('chunks    1/2 done, chunk 2 retrying (2 attempts): ASR answered 503\n');
  });

  it('when a waited-for job failed, then the reason, each failed chunk and how to retry are printed', () => {
    const job = jobWith([done('a'), broken], { jobStatus: 'failed', failureReason: 'chunk 2 failed for good' });
    expect(describeFailure(job)).toBe(
      [
        'transcribe: job job-01test failed: chunk 2 failed for good',
        '  chunk 2 (talk/part-2.wav) failed after 3 attempts: ASR answered 500: simulated permanent ASR failure',
        'retry the chunks that did not complete with: transcribe retry job-01test --wait',
        '',
      ].join('\n'),
    );
    expect(describeJob(job)).toContain(
      'reason    chunk 2 failed for good\n  chunk 2 (talk/part-2.wav) failed after 3 attempts: ASR answered 500',
    );
  });

  it('when a cancelled job has a chunk that never reached the ASR, then it says so rather than "after 0 attempts"', () => {
    const job = jobWith([done('a'), { status: 'failed', attempts: 0, error: 'canceled' }], {
      jobStatus: 'failed',
      failureReason: 'canceled',
    });
    expect(describeJob(job)).toContain('  chunk 2 (talk/part-2.wav) failed before any attempt: canceled');
  });

  it('when search results are listed, then the columns line up, with a reason column only when a job failed', () => {
    const completed = jobWith([done('a')], {
      jobId: 'job-1',
      jobStatus: 'completed',
      completedTime: '2026-11-24T09:40:00.000Z',
    });
    const running = jobWith([done('a'), {}], { jobId: 'job-22', userId: 'bob' });
    expect(searchTable([completed, running])).toBe(
      [
        'JOB     STATUS       USER   CHUNKS  CREATED                   FINISHED',
        'job-1   completed    alice  1/1     2026-11-24T09:39:47.892Z  2026-11-24T09:40:00.000Z',
        'job-22  in progress  bob    1/2     2026-11-24T09:39:47.892Z  -',
        '',
      ].join('\n'),
    );
    const failed = jobWith([broken], { jobId: 'job-3', jobStatus: 'failed', failureReason: 'canceled' });
    expect(searchTable([failed]).split('\n')[0]).toMatch(/FINISHED {2}REASON$/);
  });
});

describe('the CLI output for audio files', () => {
  it('when files are listed, then sizes read as people read them and only uploads have an expiry', () => {
    expect(
      audioTable([
        {
          path: 'uploads/01jz8m3k2q4w5e6r7t8y9u0i1o-talk.mp3',
          bytes: 5_033_165,
          modifiedTime: '2026-11-24T09:39:47.892Z',
          expiresTime: '2026-11-27T09:39:47.892Z',
        },
        { path: 'meeting/part-1.wav', bytes: 812, modifiedTime: '2026-11-20T08:00:00.000Z', expiresTime: null },
      ]),
    ).toBe(
      [
        'PATH                                         SIZE     EXPIRES',
        'uploads/01jz8m3k2q4w5e6r7t8y9u0i1o-talk.mp3  4.8 MiB  2026-11-27T09:39:47.892Z',
        'meeting/part-1.wav                           812 B    -',
        '',
      ].join('\n'),
    );
  });

  it('when a path cannot be removed, then a missing one reads "no such audio file", any other failure its error', () => {
    const missing = new ApiError(404, 'audio_not_found', 'no audio file at uploads/a.wav', null, undefined);
    expect(describeRemoveFailure('uploads/a.wav', missing)).toBe('transcribe: no such audio file: uploads/a.wav\n');
    const busy = new ApiError(503, 'unavailable', 'the audio store is not answering', null, 5);
    expect(describeRemoveFailure('uploads/a.wav', busy)).toBe(
      'transcribe: cannot remove uploads/a.wav: the audio store is not answering (unavailable, HTTP 503, retry after 5 s)\n',
    );
  });
});

describe('the CLI errors', () => {
  const unauthorized = new ApiError(401, 'unauthenticated', 'invalid credentials', null, undefined);

  it('when the API answers an error, then people get its message and code on one line, scripts its JSON', () => {
    expect(formatError(unauthorized, { json: false, apiKeyGiven: true })).toBe(
      'transcribe: invalid credentials (unauthenticated, HTTP 401)\n',
    );
    expect(formatError(unauthorized, { json: true, apiKeyGiven: true })).toBe(
      '{"error":{"code":"unauthenticated","message":"invalid credentials","details":null}}\n',
    );
  });

  it('when a 401 comes back and no key was given, then the message says where a key goes', () => {
    expect(formatError(unauthorized, { json: false, apiKeyGiven: false })).toBe(
      'transcribe: invalid credentials (unauthenticated, HTTP 401); no API key was given: pass --api-key or set TRANSCRIBE_API_KEY\n',
    );
  });

  it('when the API is busy, then its Retry-After is shown', () => {
    const busy = apiErrorOf(
      { status: 429, statusText: 'Too Many Requests', headers: new Headers({ 'retry-after': '7' }) },
      '{"error":{"code":"too_many_jobs","message":"too many jobs in flight","details":null}}',
    );
    expect(formatError(busy, { json: false, apiKeyGiven: true })).toBe(
      'transcribe: too many jobs in flight (too_many_jobs, HTTP 429, retry after 7 s)\n',
    );
  });

  it('when something other than the API answers, then its status stands in for the code', () => {
    const proxy = apiErrorOf({ status: 502, statusText: 'Bad Gateway', headers: new Headers() }, '<html>…</html>');
    expect(proxy).toMatchObject({ status: 502, code: 'http_502', message: 'the API answered 502 Bad Gateway' });
  });

  it('when the API cannot be reached, then one line names the URL, and the JSON carries it too', () => {
    const refused = new ApiUnreachableError('http://127.0.0.1:3999', 'connection refused');
    expect(formatError(refused, { json: false, apiKeyGiven: true })).toBe(
      'transcribe: cannot reach the API at http://127.0.0.1:3999: connection refused (set --api-url or TRANSCRIBE_API_URL)\n',
    );
    expect(JSON.parse(formatError(refused, { json: true, apiKeyGiven: true }))).toMatchObject({
      error: { code: 'api_unreachable', details: { url: 'http://127.0.0.1:3999' } },
    });
  });

  it('when an upload is refused, then the error names the file, in one line for people and in the JSON', () => {
    const refused = new ApiError(415, 'unsupported_audio', 'audio rejected: not a known audio format', [], undefined);
    const failed = new UploadError('./notes.txt', refused);
    expect(formatError(failed, { json: false, apiKeyGiven: true })).toBe(
      'transcribe: cannot upload ./notes.txt: audio rejected: not a known audio format (unsupported_audio, HTTP 415)\n',
    );
    expect(JSON.parse(formatError(failed, { json: true, apiKeyGiven: true }))).toEqual({
      error: {
        code: 'unsupported_audio',
        message: 'cannot upload ./notes.txt: audio rejected: not a known audio format',
        details: [],
        file: './notes.txt',
      },
    });
  });

  it('when the command line is wrong, then the message points at the command help', () => {
    expect(formatError(new UsageError('status needs a job id', 'status'), { json: false, apiKeyGiven: false })).toBe(
      "transcribe: status needs a job id\nrun 'transcribe status --help' for usage\n",
    );
  });
});
