import { TranscriptionApiClient } from '../../src/cli/api-client';
import { runCli } from '../../src/cli/run-cli';
import { jobWith } from '../support/cli-jobs';

type Answer = { status?: number; json?: unknown; text?: string };

/** Runs the CLI against a fake API that answers each `METHOD /path?query` from `routes`, in order. */
async function run(argv: string[], routes: Record<string, Answer[]> = {}, env: NodeJS.ProcessEnv = {}) {
  const requests: { url: string; method: string; headers: Record<string, string>; body?: string }[] = [];
  const fakeFetch = (async (url: string, init: RequestInit) => {
    const { pathname, search } = new URL(url);
    requests.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
      body: init.body as string | undefined,
    });
    const answer = routes[`${init.method} ${pathname}${search}`]?.shift();
    if (answer === undefined) throw new Error(`unexpected ${init.method} ${url}`);
    const body = answer.text ?? JSON.stringify(answer.json);
    const type = answer.text === undefined ? 'application/json' : 'text/plain';
    return new Response(body, { status: answer.status ?? 200, headers: { 'content-type': type } });
  }) as typeof fetch;
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(
    argv,
    {
      stdout: { write: (text: string) => stdout.push(text) },
      stderr: { write: (text: string) => stderr.push(text), isTTY: false },
      env,
      onInterrupt: () => () => undefined,
    },
    (settings) => new TranscriptionApiClient(settings, fakeFetch),
  );
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), requests };
}

const running = jobWith([{ status: 'completed', attempts: 1, transcript: 'one' }, { status: 'in_progress' }]);
const completed = jobWith(
  [
    { status: 'completed', attempts: 1, transcript: 'one' },
    { status: 'completed', attempts: 1, transcript: 'two' },
  ],
  { jobStatus: 'completed', transcription: 'one two', completedTime: '2026-11-24T09:40:00.000Z' },
);

describe('the transcribe commands', () => {
  it('when submit --wait runs piped, then progress is a line per change on stderr and the transcript is on stdout', async () => {
    const result = await run(
      ['submit', 'talk/part-1.wav', 'talk/part-2.wav', '--wait', '--idempotency-key', 'k1'],
      {
        'POST /transcribe': [{ status: 202, json: { jobId: 'job-01test' } }],
        'GET /transcript/job-01test': [{ json: running }],
        'GET /transcript/job-01test?wait=1': [{ json: running }, { json: completed }],
      },
      { TRANSCRIBE_API_KEY: 'key-1', TRANSCRIBE_API_URL: 'http://api.test:3000/' },
    );
    expect(result).toMatchObject({
      code: 0,
      stdout: 'one two\n',
      stderr: 'submitted job-01test\n1/2 chunks  1 transcribing\n2/2 chunks  completed\n',
    });
    expect(result.requests[0]).toMatchObject({
      url: 'http://api.test:3000/transcribe',
      headers: { authorization: 'Bearer key-1', 'idempotency-key': 'k1', 'content-type': 'application/json' },
      body: JSON.stringify({ audioChunkPaths: ['talk/part-1.wav', 'talk/part-2.wav'] }),
    });
  });

  it('when a waited-for job fails, then --json prints the job and exits 1 with nothing on stderr', async () => {
    const failed = { ...running, jobStatus: 'failed', failureReason: 'canceled' };
    const result = await run(['status', 'job-01test', '--wait', '--json'], {
      'GET /transcript/job-01test': [{ json: failed }],
    });
    expect(result).toEqual({ code: 1, stdout: `${JSON.stringify(failed)}\n`, stderr: '', requests: expect.any(Array) });
  });

  it('when search --all is given, then every page is fetched and printed as one answer', async () => {
    const result = await run(['search', '--status', 'completed', '--limit', '1', '--all', '--json'], {
      'GET /transcript/search?jobStatus=completed&limit=1': [{ json: { results: [completed], nextPageToken: 'a.b' } }],
      'GET /transcript/search?jobStatus=completed&limit=1&pageToken=a.b': [
        { json: { results: [{ ...completed, jobId: 'job-2' }], nextPageToken: null } },
      ],
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      results: [completed, { ...completed, jobId: 'job-2' }],
      nextPageToken: null,
    });
  });

  it('when the format is txt, then the API renders it and the CLI prints it as it came', async () => {
    const result = await run(['status', 'job-01test', '--format', 'txt'], {
      'GET /transcript/job-01test?format=txt': [{ text: 'one two\n' }],
    });
    expect(result).toMatchObject({ code: 0, stdout: 'one two\n' });
  });

  it('when the command line is wrong under --json, then the error is JSON on stderr and the exit code 2', async () => {
    const result = await run(['search', '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stderr)).toEqual({
      error: {
        code: 'usage_error',
        message: 'search needs --status, one of in_progress, completed, failed',
        details: null,
      },
    });
  });

  it('when the API answers an error, then its message and code are printed and the exit code is 1', async () => {
    const result = await run(
      ['cancel', 'job-01test'],
      {
        'DELETE /transcript/job-01test': [
          {
            status: 409,
            json: {
              error: { code: 'job_finished', message: 'the job has already finished (completed)', details: null },
            },
          },
        ],
      },
      { TRANSCRIBE_API_KEY: 'key-1' },
    );
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'transcribe: the job has already finished (completed) (job_finished, HTTP 409)\n',
    });
  });
});
