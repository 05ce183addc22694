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
        wait: true,
        userId: 'alice',
        callbackUrl: 'https://hooks.example.com/t',
        idempotencyKey: 'upload-1',
        format: 'srt',
      },
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
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ kind: 'version' });
  });

  it.each([
    [[], 'missing a command', undefined],
    [['transcode'], 'unknown command "transcode"', undefined],
    [['submit'], 'submit needs at least one audio chunk path', 'submit'],
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
