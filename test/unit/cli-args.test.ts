import { parseCliArgs, UsageError } from '../../src/cli/cli-args';

function usageErrorOf(argv: string[]): UsageError {
  try {
    parseCliArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('transcribe argument parsing', () => {
  it('when submit gets paths and options in any order, then they all reach the command', () => {
    expect(
      parseCliArgs([
        'submit',
        'talk/part-1.wav',
        '--wait',
        '--user',
        'alice',
        'talk/part-2.wav',
        '--callback-url=https://hooks.example.com/t',
        '--idempotency-key',
        'upload-1',
        '--format',
        'srt',
        '--json',
      ]),
    ).toEqual({
      kind: 'run',
      json: true,
      connection: {},
      command: {
        name: 'submit',
        audioChunkPaths: ['talk/part-1.wav', 'talk/part-2.wav'],
        upload: true,
        wait: true,
        userId: 'alice',
        callbackUrl: 'https://hooks.example.com/t',
        idempotencyKey: 'upload-1',
        format: 'srt',
      },
    });
  });

  it('when submit gets --no-upload, then every argument is to be taken as a path in the audio space', () => {
    expect(parseCliArgs(['submit', './talk.wav', '--no-upload'])).toMatchObject({
      command: { name: 'submit', audioChunkPaths: ['./talk.wav'], upload: false },
    });
  });

  it('when an audio subcommand gets its operands and options, then they reach it', () => {
    expect(
      parseCliArgs(['audio', 'ls', '--prefix', 'uploads/', '--limit', '1000', '--all', '--page-token', 't1']),
    ).toEqual({
      kind: 'run',
      json: false,
      connection: {},
      command: { name: 'audio ls', prefix: 'uploads/', limit: 1000, all: true, pageToken: 't1' },
    });
    expect(parseCliArgs(['audio', 'rm', 'uploads/a.wav', './talk/b.wav', '--user', 'alice', '--json'])).toMatchObject({
      json: true,
      command: { name: 'audio rm', paths: ['uploads/a.wav', './talk/b.wav'], userId: 'alice' },
    });
    expect(parseCliArgs(['audio', 'upload', 'a.wav', 'b.mp3'])).toMatchObject({
      command: { name: 'audio upload', files: ['a.wav', 'b.mp3'] },
    });
  });

  it('when global options come before the command, then they count as well', () => {
    expect(parseCliArgs(['--api-url', 'http://api:3000', '--api-key=k', 'status', 'job-1'])).toEqual({
      kind: 'run',
      json: false,
      connection: { apiUrl: 'http://api:3000', apiKey: 'k' },
      command: { name: 'status', jobId: 'job-1', wait: false },
    });
  });

  it('when search gets a status, a limit and --all, then the limit is a number', () => {
    expect(parseCliArgs(['search', '--status', 'failed', '--limit', '5', '--all', '--user', 'bob'])).toMatchObject({
      command: { name: 'search', jobStatus: 'failed', limit: 5, all: true, userId: 'bob' },
    });
  });

  it('when --help or help is asked for, then it is help for that command, whatever else is missing', () => {
    expect(parseCliArgs(['submit', '--help'])).toEqual({ kind: 'help', command: 'submit' });
    expect(parseCliArgs(['search', '-h'])).toEqual({ kind: 'help', command: 'search' });
    expect(parseCliArgs(['help', 'retry'])).toEqual({ kind: 'help', command: 'retry' });
    expect(parseCliArgs(['audio', 'rm', '--help'])).toEqual({ kind: 'help', command: 'audio' });
    expect(parseCliArgs(['help', 'audio'])).toEqual({ kind: 'help', command: 'audio' });
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ kind: 'version' });
  });

  it.each([
    [[], 'missing a command', undefined],
    [['transcode'], 'unknown command "transcode"', undefined],
    [['submit'], 'submit needs at least one audio file or path', 'submit'],
    [['status', 'job-1', '--no-upload'], '--no-upload is not an option of status', 'status'],
    [['audio'], 'audio needs a subcommand: ls, rm, upload', 'audio'],
    [['audio', 'mv', 'a.wav'], 'unknown audio command "mv"', 'audio'],
    [['audio', 'ls', 'uploads/'], 'audio ls takes no operands, got "uploads/"', 'audio'],
    [['audio', 'ls', '--limit', '1001'], '--limit: must be a whole number from 1 to 1000', 'audio'],
    [['audio', 'ls', '--wait'], '--wait is not an option of audio ls', 'audio'],
    [['audio', 'rm'], 'audio rm needs at least one path', 'audio'],
    [['audio', 'rm', 'a.wav', 'talk/../../b.wav'], 'audio rm: "talk/../../b.wav" leaves your audio space', 'audio'],
    [['audio', 'rm', ''], 'audio rm: "" is empty', 'audio'],
    [['audio', 'upload'], 'audio upload needs at least one file', 'audio'],
    [['status'], 'status needs a job id', 'status'],
    [['cancel', 'job-1', 'job-2'], 'cancel takes one job id, got 2', 'cancel'],
    [['search'], 'search needs --status, one of in_progress, completed, failed', 'search'],
    [['search', '--status', 'done'], '--status: must be one of in_progress, completed, failed', 'search'],
    [['search', '--status', 'failed', '--limit', '0'], '--limit: must be a whole number from 1 to 100', 'search'],
    [['search', '--status', 'failed', '--limit', '2.5'], '--limit: must be a whole number from 1 to 100', 'search'],
    [['status', 'job-1', '--format', 'pdf'], '--format: must be one of json, txt, srt, vtt', 'status'],
    [['cancel', 'job-1', '--wait'], '--wait is not an option of cancel', 'cancel'],
    [['status', 'job-1', '--frobnicate'], 'unknown option --frobnicate', 'status'],
    [['submit', 'a.wav', '--user'], '--user needs a value', 'submit'],
    [['submit', 'a.wav', '--wait=yes'], '--wait takes no value', 'submit'],
  ])('when the arguments are %j, then it is a usage error saying %j', (argv, message, command) => {
    const error = usageErrorOf(argv);
    expect(error.message).toBe(message);
    expect(error.command).toBe(command);
  });
});
