import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TranscriptionApiClient } from '../../src/cli/api-client';
import { runCli } from '../../src/cli/run-cli';
import { jobWith } from '../support/cli-jobs';
import { chunkBytes, tempDir } from '../support/temp-dir';

/** An answer of the fake API, or `fail`: what fetch throws when no answer comes. */
type Answer = { status?: number; json?: unknown; text?: string; fail?: Error };

interface SentRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** A JSON body as sent; a streamed one as the bytes read from it. */
  body?: string | Buffer;
  duplex?: string;
}

/** Runs the CLI against a fake API that answers each `METHOD /path?query` from `routes`, in order. */
async function run(argv: string[], routes: Record<string, Answer[]> = {}, env: NodeJS.ProcessEnv = {}) {
  const requests: SentRequest[] = [];
  const fakeFetch = (async (url: string, init: RequestInit & { duplex?: string }) => {
    const { pathname, search } = new URL(url);
    const answer = routes[`${init.method} ${pathname}${search}`]?.shift();
    requests.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
      body: await bodyOf(init.body, answer),
      duplex: init.duplex,
    });
    if (answer === undefined) throw new Error(`unexpected ${init.method} ${url}`);
    if (answer.fail !== undefined) throw answer.fail;
    if (answer.status === 204) return new Response(null, { status: 204 });
    const text = answer.text ?? JSON.stringify(answer.json);
    const type = answer.text === undefined ? 'application/json' : 'text/plain';
    return new Response(text, { status: answer.status ?? 200, headers: { 'content-type': type } });
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

/**
 * A streamed body is read to the end, as the API reads an upload it takes, so the upload's progress runs its
 * course; for a refusal only its first chunk, as the API refuses on the headers without reading on.
 */
async function bodyOf(body: RequestInit['body'], answer: Answer | undefined): Promise<string | Buffer | undefined> {
  if (!(body instanceof ReadableStream)) return body as string | undefined;
  if (answer?.status !== undefined && answer.status < 400) return Buffer.from(await new Response(body).arrayBuffer());
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  return Buffer.from(first.value ?? []);
}

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

describe('the transcribe commands with local audio files', () => {
  const MiB = 1024 * 1024;
  let dir: string;
  let talk: string;
  let talkBytes: Buffer;
  const uploaded = {
    path: 'uploads/01test-talk.wav',
    bytes: 200 * 1024,
    format: 'wav',
    durationSeconds: 6.4,
    expiresTime: '2026-11-27T09:39:47.892Z',
  };

  beforeAll(async () => {
    dir = await tempDir('cli-run');
    talk = path.join(dir, 'talk.wav');
    // Over three of the file stream's 64 KiB reads, so the upload's progress passes every quarter.
    talkBytes = chunkBytes({ bytes: 200 * 1024 });
    await writeFile(talk, talkBytes);
  });

  it('when submit names a local file and a remote path, then the file is streamed up first and the job names its upload in its place', async () => {
    const result = await run(['submit', talk, 'talk/part-2.wav'], {
      'POST /audio?name=talk.wav': [{ status: 201, json: uploaded }],
      'POST /transcribe': [{ status: 202, json: { jobId: 'job-01test' } }],
    });
    expect(result).toMatchObject({
      code: 0,
      stdout: 'job-01test\n',
      stderr: [
        `uploading ${talk}: 0% of 200.0 KiB`,
        `uploading ${talk}: 25% of 200.0 KiB`,
        `uploading ${talk}: 50% of 200.0 KiB`,
        `uploading ${talk}: 75% of 200.0 KiB`,
        `uploading ${talk}: 100% of 200.0 KiB`,
        `uploaded ${talk} as uploads/01test-talk.wav`,
        '',
      ].join('\n'),
    });
    const [upload, submit] = result.requests;
    expect(upload).toMatchObject({
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(200 * 1024) },
      duplex: 'half',
    });
    expect(upload?.body).toEqual(talkBytes);
    expect(submit?.body).toBe(JSON.stringify({ audioChunkPaths: ['uploads/01test-talk.wav', 'talk/part-2.wav'] }));
  });

  it('when submit uploads under --json, then the answer lists the uploads and nothing goes to stderr', async () => {
    const result = await run(['submit', talk, '--json', '--user', 'alice'], {
      'POST /audio?name=talk.wav&userId=alice': [{ status: 201, json: uploaded }],
      'POST /transcribe': [{ status: 202, json: { jobId: 'job-01test' } }],
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ jobId: 'job-01test', uploads: [{ file: talk, ...uploaded }] });
  });

  it('when an upload is refused, then nothing is submitted and the error names the file, with exit code 1', async () => {
    const notes = path.join(dir, 'notes.txt');
    await writeFile(notes, 'not a recording\n');
    const result = await run(['submit', talk, notes, '--json'], {
      'POST /audio?name=talk.wav': [{ status: 201, json: uploaded }],
      'POST /audio?name=notes.txt': [
        {
          status: 415,
          json: { error: { code: 'unsupported_audio', message: 'audio rejected: not audio', details: null } },
        },
      ],
    });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(JSON.parse(result.stderr)).toEqual({
      error: {
        code: 'unsupported_audio',
        message: `cannot upload ${notes}: audio rejected: not audio`,
        details: null,
        file: notes,
      },
    });
    expect(result.requests.map((request) => request.method)).toEqual(['POST', 'POST']);
  });

  it('when the connection fails during an upload, then the error names the file and nothing is submitted', async () => {
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    });
    const result = await run(['submit', talk], { 'POST /audio?name=talk.wav': [{ fail: reset }] });
    expect(result.code).toBe(1);
    expect(result.requests.map((request) => request.method)).toEqual(['POST']);
    expect(result.stderr).toMatch(
      /\ntranscribe: cannot upload \S+talk\.wav: cannot reach the API at http:\/\/127\.0\.0\.1:3000: connection reset \(set --api-url or TRANSCRIBE_API_URL\)\n$/,
    );
  });

  it('when submit gets --no-upload, then even a local file is named as a path in the audio space', async () => {
    const result = await run(['submit', talk, '--no-upload'], {
      'POST /transcribe': [{ status: 202, json: { jobId: 'job-01test' } }],
    });
    expect(result).toMatchObject({ code: 0, stdout: 'job-01test\n', stderr: '' });
    expect(result.requests).toHaveLength(1);
    expect(result.requests[0]?.body).toBe(JSON.stringify({ audioChunkPaths: [talk] }));
  });

  it('when audio upload names something that is not a file here, then nothing is uploaded and it exits 1', async () => {
    const result = await run(['audio', 'upload', talk, dir]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `transcribe: cannot upload ${dir}: not a file on this machine\n`,
      requests: [],
    });
  });

  it("when audio upload succeeds, then each upload's path is printed, ready to name in a job", async () => {
    const result = await run(['audio', 'upload', talk, talk], {
      'POST /audio?name=talk.wav': [
        { status: 201, json: uploaded },
        { status: 201, json: { ...uploaded, path: 'uploads/01other-talk.wav' } },
      ],
    });
    expect(result).toMatchObject({ code: 0, stdout: 'uploads/01test-talk.wav\nuploads/01other-talk.wav\n' });
  });

  it('when audio ls has more pages, then people get a table and a pointer to the next page', async () => {
    const files = [{ ...uploaded, bytes: 5 * MiB, modifiedTime: '2026-11-24T09:39:47.892Z' }];
    const result = await run(['audio', 'ls', '--prefix', 'uploads/', '--limit', '1'], {
      'GET /audio?prefix=uploads%2F&limit=1': [{ json: { files, nextPageToken: 'dXBsb2Fkcy9h' } }],
    });
    expect(result).toEqual({
      code: 0,
      stdout: 'PATH                     SIZE     EXPIRES\nuploads/01test-talk.wav  5.0 MiB  2026-11-27T09:39:47.892Z\n',
      stderr: 'more on the next page: add --all, or --page-token dXBsb2Fkcy9h\n',
      requests: expect.any(Array),
    });
  });

  it('when audio rm meets a path that is not there, then the others are still removed and it exits 1', async () => {
    const missing = {
      status: 404,
      json: { error: { code: 'audio_not_found', message: 'no audio file at uploads/gone.wav', details: null } },
    };
    const routes = () => ({
      'DELETE /audio/uploads/01test-talk.wav': [{ status: 204 }],
      'DELETE /audio/uploads/gone.wav': [missing],
      'DELETE /audio/talk/part%201.wav': [{ status: 204 }],
    });
    const paths = ['uploads/01test-talk.wav', 'uploads/gone.wav', 'talk/part 1.wav'];
    expect(await run(['audio', 'rm', ...paths], routes())).toMatchObject({
      code: 1,
      stdout: 'removed uploads/01test-talk.wav\nremoved talk/part 1.wav\n',
      stderr: 'transcribe: no such audio file: uploads/gone.wav\n',
    });
    const json = await run(['audio', 'rm', ...paths, '--json'], routes());
    expect(json).toMatchObject({ code: 1, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      removed: ['uploads/01test-talk.wav', 'talk/part 1.wav'],
      failed: [{ path: 'uploads/gone.wav', error: missing.json.error }],
    });
  });
});
