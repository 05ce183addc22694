import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ServiceStack, PROJECT_ROOT, freePort, pollUntil } from '../support/service-stack';
import { chunkBytes, tempDir } from '../support/temp-dir';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'transcribe-main.js');
const execFileAsync = promisify(execFile);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The built CLI as its own process, started from its file the way a shell starts an npm-linked bin (so its mode
 * and shebang are what make it run), with pipes for stdout and stderr, as a script would have it.
 */
describe('the transcribe CLI against the real service', () => {
  let stack: ServiceStack;
  let completedJobId: string;
  let failedJobId: string;
  /** Where the tests keep files "on the user's machine": the CLI runs there, so `./local.wav` names one. */
  let localDir: string;
  let uploadedPath: string;

  /**
   * Runs `transcribe` in `localDir` as alice through TRANSCRIBE_API_KEY unless `env` says otherwise (`undefined`
   * unsets).
   */
  function transcribe(args: string[], env: Record<string, string | undefined> = {}, command = CLI): Promise<CliRun> {
    const childEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      TRANSCRIBE_API_URL: stack.apiUrl,
      TRANSCRIBE_API_KEY: stack.apiKeys.alice,
      ...env,
    };
    for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env: childEnv, cwd: localDir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  beforeAll(async () => {
    stack = await ServiceStack.start({ failPattern: /^broken\// });
    for (let index = 1; index <= 3; index += 1) {
      await stack.writeChunk(`talk/part-${index}.wav`, { transcript: `words of part ${index}` });
    }
    await stack.writeChunk('broken/chunk.wav');
    localDir = await tempDir('cli-local');
    await writeFile(path.join(localDir, 'local.wav'), chunkBytes({ transcript: 'words from this machine' }));
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when the package is built, then its bin is an executable file with a node shebang that runs from PATH through a link', async () => {
    const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    expect(path.join(PROJECT_ROOT, pkg.bin.transcribe)).toBe(CLI);
    await expect(access(CLI, constants.X_OK)).resolves.toBeUndefined();
    expect((await readFile(CLI, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');

    // `npm link` and `npm install -g` put a symlink named for the bin on PATH.
    const bin = await tempDir('cli-bin');
    await symlink(CLI, path.join(bin, 'transcribe'));
    const run = await transcribe(['--version'], { PATH: `${bin}${path.delimiter}${process.env.PATH}` }, 'transcribe');
    expect(run).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('when a job is submitted with --wait --json, then stdout is the completed job exactly as the API answers it', async () => {
    const run = await transcribe(['submit', 'talk/part-1.wav', 'talk/part-2.wav', '--wait', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const job = JSON.parse(run.stdout);
    expect(job).toMatchObject({
      userId: 'alice',
      jobStatus: 'completed',
      transcription: 'words of part 1 words of part 2',
    });
    completedJobId = job.jobId;
    const answer = await stack.request('GET', `/transcript/${completedJobId}`, undefined, stack.auth('alice'));
    expect(run.stdout).toBe(`${answer.text}\n`);
  });

  it('when piped, then submit prints the job id, and status --wait a plain line per change, then the transcript', async () => {
    const submitted = await transcribe(['submit', 'talk/part-3.wav']);
    expect(submitted).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^job-\S+\n$/) });
    const jobId = submitted.stdout.trim();

    const run = await transcribe(['status', jobId, '--wait']);
    expect(run).toMatchObject({ code: 0, stdout: 'words of part 3\n' });
    expect(run.stderr).not.toMatch(/[\r\x1b]/);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('1/1 chunks  completed');
    for (const line of lines) expect(line).toMatch(/^[01]\/1 chunks( {2}\S.*)?$/);
    expect(lines.filter((line, index) => line === lines[index - 1])).toEqual([]);
  });

  it('when a chunk fails for good, then submit --wait exits 1 with the reason and each failed chunk', async () => {
    const run = await transcribe(['submit', 'talk/part-1.wav', 'broken/chunk.wav', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    failedJobId = /^submitted (\S+)$/m.exec(run.stderr)![1]!;
    expect(run.stderr).toMatch(new RegExp(`^transcribe: job ${failedJobId} failed: .*broken/chunk\\.wav`, 'm'));
    expect(run.stderr).toContain(
      '  chunk 2 (broken/chunk.wav) failed after 3 attempts: ASR answered 500: simulated permanent ASR failure\n',
    );
    expect(run.stderr).toContain(`transcribe retry ${failedJobId} --wait`);
    expect(run.stderr).not.toMatch(/\n\s+at /);

    const status = await transcribe(['status', failedJobId]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/^status {4}failed$/m);
  });

  it('when a failed job is retried with --wait, then the new job completes with the good chunk carried over', async () => {
    stack.simulator.script('broken/chunk.wav', [{ status: 200, body: { text: 'mended' } }]);
    const run = await transcribe(['retry', failedJobId, '--wait', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ jobStatus: 'completed', transcription: 'words of part 1 mended' });
  });

  it('when a job is shown with status, then people get its facts and transcript, scripts the API JSON or the text', async () => {
    const human = await transcribe(['status', completedJobId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status {4}completed$/m);
    expect(human.stdout).toMatch(/^chunks {4}2\/2 done$/m);
    expect(human.stdout.endsWith('\nwords of part 1 words of part 2\n')).toBe(true);

    const answer = await stack.request('GET', `/transcript/${completedJobId}`, undefined, stack.auth('alice'));
    expect(await transcribe(['status', completedJobId, '--json'])).toEqual({
      code: 0,
      stdout: `${answer.text}\n`,
      stderr: '',
    });
    expect((await transcribe(['status', completedJobId, '--format', 'txt'])).stdout).toBe(
      'words of part 1 words of part 2\n',
    );
    expect((await transcribe(['status', completedJobId, '--format', 'srt'])).stdout).toMatch(
      /^1\n00:00:00,000 --> 00:00:00,100\nwords of part 1\n/,
    );
  });

  it("when searching, then the user's jobs in that status are listed, and --all follows every page", async () => {
    const everything = await pollUntil(
      () => transcribe(['search', '--status', 'completed', '--limit', '100', '--json']),
      (run) => run.code === 0 && JSON.parse(run.stdout).results.length >= 3,
    );
    const results: { jobId: string; userId: string }[] = JSON.parse(everything.stdout).results;
    expect(results.map((job) => job.jobId)).toContain(completedJobId);
    expect(results.every((job) => job.userId === 'alice')).toBe(true);

    const paged = await transcribe(['search', '--status', 'completed', '--limit', '1', '--all', '--json']);
    expect(paged.code).toBe(0);
    expect(JSON.parse(paged.stdout)).toEqual({ results: JSON.parse(everything.stdout).results, nextPageToken: null });

    const table = await pollUntil(
      () => transcribe(['search', '--status', 'failed']),
      (run) => run.stdout.includes(failedJobId),
    );
    expect(table.stdout).toMatch(/^JOB +STATUS +USER +CHUNKS +CREATED +FINISHED +REASON$/m);
    expect(table.stdout).toMatch(new RegExp(`^${failedJobId} +failed +alice +1/2 `, 'm'));

    const onePage = await transcribe(['search', '--status', 'completed', '--limit', '1']);
    expect(onePage.stderr).toMatch(/^more on the next page: add --all, or --page-token \S+$/m);
  });

  it('when a running job is canceled, then cancel answers at once and the job ends failed with reason "canceled"', async () => {
    await stack.writeChunk('cancel/slow.wav');
    stack.simulator.script('cancel/slow.wav', [{ status: 200, body: { text: 'never' }, delayMs: 60_000 }]);
    const jobId = (await transcribe(['submit', 'cancel/slow.wav'])).stdout.trim();
    await stack.waitForJob(jobId, (job) => job.chunks[0].status === 'in_progress');

    const cancel = await transcribe(['cancel', jobId]);
    expect(cancel).toEqual({
      code: 0,
      stdout: `canceling ${jobId}: it will read failed with reason "canceled"\n`,
      stderr: '',
    });
    const ended = await transcribe(['status', jobId, '--wait', '--json']);
    expect(ended.code).toBe(1);
    expect(JSON.parse(ended.stdout)).toMatchObject({ jobStatus: 'failed', failureReason: 'canceled' });
  });

  it('when the key comes from --api-key instead of TRANSCRIBE_API_KEY, then it works the same', async () => {
    const run = await transcribe(['status', completedJobId, '--api-key', stack.apiKeys.alice, '--json'], {
      TRANSCRIBE_API_KEY: undefined,
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).jobId).toBe(completedJobId);
  });

  it("when the key is wrong or missing, then the API's 401 message and code are printed, as JSON under --json", async () => {
    const wrong = await transcribe(['status', completedJobId], { TRANSCRIBE_API_KEY: 'not-a-key' });
    expect(wrong).toEqual({
      code: 1,
      stdout: '',
      stderr: 'transcribe: invalid credentials (unauthenticated, HTTP 401)\n',
    });

    const answer = await stack.request('GET', `/transcript/${completedJobId}`, undefined, {
      authorization: 'Bearer not-a-key',
    });
    const json = await transcribe(['status', completedJobId, '--json'], { TRANSCRIBE_API_KEY: 'not-a-key' });
    expect(json).toEqual({ code: 1, stdout: '', stderr: `${answer.text}\n` });

    const missing = await transcribe(['search', '--status', 'completed'], { TRANSCRIBE_API_KEY: undefined });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'transcribe: missing bearer credentials (unauthenticated, HTTP 401); no API key was given: pass --api-key or set TRANSCRIBE_API_KEY\n',
    );
  });

  it('when no API listens at the address, then one line names the URL and the exit code is 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await transcribe(['status', completedJobId], { TRANSCRIBE_API_URL: url });
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: `transcribe: cannot reach the API at ${url}: connection refused (set --api-url or TRANSCRIBE_API_URL)\n`,
    });
  });

  it('when the command line or a variable is wrong, then it is a usage error with exit code 2, naming the problem', async () => {
    const noStatus = await transcribe(['search']);
    expect(noStatus).toMatchObject({ code: 2, stdout: '' });
    expect(noStatus.stderr).toMatch(/^transcribe: search needs --status/);
    const badUrl = await transcribe(['status', completedJobId], { TRANSCRIBE_API_URL: 'ftp://files.example.com' });
    expect(badUrl).toMatchObject({ code: 2, stderr: expect.stringMatching(/^transcribe: TRANSCRIBE_API_URL: /) });
    const help = await transcribe(['submit', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Each argument that names a file on this machine \(\.\/talk\.mp3\) is uploaded first/);
    const noPaths = await transcribe(['audio', 'rm']);
    expect(noPaths).toMatchObject({ code: 2, stdout: '' });
    expect(noPaths.stderr).toBe(
      "transcribe: audio rm needs at least one path\nrun 'transcribe audio --help' for usage\n",
    );
  });

  it('when submit --wait names a local file, then it is uploaded first and the job transcribes it in its place', async () => {
    const run = await transcribe(['submit', './local.wav', 'talk/part-2.wav', '--wait']);
    expect(run).toMatchObject({ code: 0, stdout: 'words from this machine words of part 2\n' });
    const uploaded = /^uploaded \.\/local\.wav as (uploads\/[0-9a-z]{26}-local\.wav)$/m.exec(run.stderr);
    expect(uploaded).not.toBeNull();
    uploadedPath = uploaded![1]!;
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      expect.stringMatching(/^uploading \.\/local\.wav: 0% of \d+\.\d KiB$/),
      expect.stringMatching(/^uploading \.\/local\.wav: 100% of \d+\.\d KiB$/),
      `uploaded ./local.wav as ${uploadedPath}`,
      expect.stringMatching(/^submitted job-\S+$/),
    ]);
    expect(lines.at(-1)).toBe('2/2 chunks  completed');

    const json = await transcribe(['submit', './local.wav', '--wait', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const job = JSON.parse(json.stdout);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'words from this machine' });
    expect(job.uploads).toEqual([
      {
        file: './local.wav',
        path: expect.stringMatching(/^uploads\/[0-9a-z]{26}-local\.wav$/),
        bytes: chunkBytes({ transcript: 'words from this machine' }).length,
        format: 'wav',
        durationSeconds: expect.any(Number),
        expiresTime: expect.any(String),
      },
    ]);
    expect(job.chunks[0].path).toBe(job.uploads[0].path);
  });

  it('when a local file is over the size limit, then submit stops before submitting and names the file, exit 1', async () => {
    await writeFile(path.join(localDir, 'huge.wav'), chunkBytes({ bytes: 5 * 1024 * 1024 + 1 }));
    const run = await transcribe(['submit', 'talk/part-1.wav', './huge.wav']);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^transcribe: cannot upload \.\/huge\.wav: the upload is over the limit of 5242880 bytes \(audio_too_large, HTTP 413\)$/m,
      ),
    });
    expect(run.stderr).not.toMatch(/^submitted/m);
  });

  it('when audio ls runs, then the upload is listed with its size and expiry beside the files placed there', async () => {
    const table = await transcribe(['audio', 'ls']);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(/^PATH +SIZE +EXPIRES$/m);
    expect(table.stdout).toMatch(/^talk\/part-1\.wav +\d+\.\d KiB +-$/m);
    expect(table.stdout).toMatch(new RegExp(`^${uploadedPath} +\\d+\\.\\d KiB +\\d{4}-\\d\\d-\\d\\dT\\S+Z$`, 'm'));

    const json = await transcribe(['audio', 'ls', '--prefix', 'uploads/', '--limit', '1', '--all', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const listed = JSON.parse(json.stdout);
    expect(listed.nextPageToken).toBeNull();
    expect(listed.files.map((file: { path: string }) => file.path)).toContain(uploadedPath);
    expect(listed.files.every((file: { path: string }) => file.path.startsWith('uploads/'))).toBe(true);
  });

  it('when audio rm deletes the upload, then it is gone, and removing it again fails with exit code 1', async () => {
    expect(await transcribe(['audio', 'rm', uploadedPath])).toEqual({
      code: 0,
      stdout: `removed ${uploadedPath}\n`,
      stderr: '',
    });
    expect((await transcribe(['audio', 'ls', '--prefix', 'uploads/'])).stdout).not.toContain(uploadedPath);
    expect(await transcribe(['audio', 'rm', uploadedPath])).toEqual({
      code: 1,
      stdout: '',
      stderr: `transcribe: no such audio file: ${uploadedPath}\n`,
    });
  });

  it('when audio upload runs, then it prints the path, which a job then names as it is', async () => {
    const upload = await transcribe(['audio', 'upload', './local.wav']);
    expect(upload).toMatchObject({ code: 0, stdout: expect.stringMatching(/^uploads\/[0-9a-z]{26}-local\.wav\n$/) });
    const run = await transcribe(['submit', upload.stdout.trim(), '--wait', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const job = JSON.parse(run.stdout);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'words from this machine' });
    expect(job).not.toHaveProperty('uploads');
  });

  it('when submit --wait runs in a real terminal, then a progress bar is redrawn in place as chunks finish, then the transcript', async () => {
    await stack.writeChunk('tty/part-1.wav', { transcript: 'first words' });
    await stack.writeChunk('tty/part-2.wav');
    stack.simulator.script('tty/part-2.wav', [
      { status: 503, body: { error: { message: 'busy' } } },
      { status: 200, body: { text: 'last words' }, delayMs: 5000 },
    ]);
    const socket = `transcribe-cli-test-${process.pid}-${Date.now()}`;
    const tmux = (...args: string[]) => execFileAsync('tmux', ['-L', socket, ...args]);
    const pane = async () => (await tmux('capture-pane', '-p', '-t', 'cli')).stdout;
    const env = `TRANSCRIBE_API_URL='${stack.apiUrl}' TRANSCRIBE_API_KEY='${stack.apiKeys.alice}'`;
    try {
      await tmux(
        'new-session',
        '-d',
        '-s',
        'cli',
        '-x',
        '120',
        '-y',
        '30',
        `env ${env} '${CLI}' submit tty/part-1.wav tty/part-2.wav --wait; echo "exit=$?"; sleep 600`,
      );
      const midway = await pollUntil(pane, (text) => /1\/2 chunks {2}chunk 2 retrying/.test(text), 30_000);
      expect(midway).toMatch(/\[█{6}░{6}\] 1\/2 chunks {2}chunk 2 retrying \(\d attempts?\): ASR answered 503: busy/);

      const final = await pollUntil(pane, (text) => text.includes('exit='), 60_000);
      expect(final).toContain('[████████████] 2/2 chunks  completed\nfirst words last words\nexit=0');
      // Redrawn in place: the progress is one line, and what it said midway is gone.
      expect(final).not.toContain('1/2 chunks');
      expect(final.split('\n').filter((line) => line.includes(' chunks'))).toHaveLength(1);
    } finally {
      await tmux('kill-server').catch(() => undefined);
    }
  });
});
