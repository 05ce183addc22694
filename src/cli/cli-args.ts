import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { JOB_STATUSES, type JobStatus } from '../../workflows/contract';
import { TRANSCRIPT_FORMATS } from '../api/request-schemas';

export const COMMAND_NAMES = ['submit', 'status', 'search', 'cancel', 'retry', 'audio'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
const AUDIO_COMMAND_NAMES = ['ls', 'rm', 'upload'] as const;
type AudioCommandName = (typeof AUDIO_COMMAND_NAMES)[number];
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

/** A command line that cannot run as written: exit code 2, with a pointer to the command's `--help`. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Where the API is and the key to it, as given on the command line (the environment fills in the rest). */
export interface ConnectionFlags {
  apiUrl?: string;
  apiKey?: string;
}

export type CliCommand =
  | {
      name: 'submit';
      /** Local files to upload first, or paths in the user's audio space: which is which, only run time can tell. */
      audioChunkPaths: string[];
      /** `false` with `--no-upload`: every argument is a path in the user's audio space. */
      upload: boolean;
      wait: boolean;
      format?: TranscriptFormat;
      userId?: string;
      callbackUrl?: string;
      idempotencyKey?: string;
    }
  | { name: 'status'; jobId: string; wait: boolean; format?: TranscriptFormat }
  | { name: 'search'; jobStatus: JobStatus; userId?: string; limit?: number; all: boolean; pageToken?: string }
  | { name: 'cancel'; jobId: string }
  | {
      name: 'retry';
      jobId: string;
      wait: boolean;
      format?: TranscriptFormat;
      callbackUrl?: string;
      idempotencyKey?: string;
    }
  | { name: 'audio ls'; prefix?: string; userId?: string; limit?: number; all: boolean; pageToken?: string }
  | { name: 'audio rm'; paths: string[]; userId?: string }
  | { name: 'audio upload'; files: string[]; userId?: string };

export type CliInvocation =
  | { kind: 'help'; command?: CommandName }
  | { kind: 'version' }
  | { kind: 'run'; command: CliCommand; json: boolean; connection: ConnectionFlags };

const OPTIONS = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  wait: { type: 'boolean' },
  format: { type: 'string' },
  user: { type: 'string' },
  'callback-url': { type: 'string' },
  'idempotency-key': { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  'page-token': { type: 'string' },
  'no-upload': { type: 'boolean' },
  prefix: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type OptionName = keyof typeof OPTIONS;

const GLOBAL_OPTIONS: readonly OptionName[] = ['api-url', 'api-key', 'json', 'help', 'version'];

/** The options each command takes besides the global ones. */
const COMMAND_OPTIONS: Readonly<Record<CliCommand['name'], readonly OptionName[]>> = {
  submit: ['wait', 'format', 'user', 'callback-url', 'idempotency-key', 'no-upload'],
  status: ['wait', 'format'],
  search: ['status', 'user', 'limit', 'all', 'page-token'],
  cancel: [],
  retry: ['wait', 'format', 'callback-url', 'idempotency-key'],
  'audio ls': ['prefix', 'user', 'limit', 'all', 'page-token'],
  'audio rm': ['user'],
  'audio upload': ['user'],
};

const formatSchema = z.enum(TRANSCRIPT_FORMATS, { message: `must be one of ${TRANSCRIPT_FORMATS.join(', ')}` });
const statusSchema = z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` });
/** The API's own bounds: 100 jobs per search page, 1000 files per audio listing page. */
function limitSchema(max: number) {
  const message = `must be a whole number from 1 to ${max}`;
  return z.string().regex(/^\d+$/, message).transform(Number).pipe(z.number().min(1, message).max(max, message));
}

/** Reads `transcribe`'s arguments (without `node` and the script) into what to do; throws `UsageError`. */
export function parseCliArgs(argv: readonly string[]): CliInvocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(describeParseError(err), argv.find(isCommandName));
  }
  const { values, positionals, tokens } = parsed;
  const [first, ...operands] = positionals;
  if (values.version) return { kind: 'version' };
  if (first === 'help') {
    const topic = operands[0];
    if (topic !== undefined && !isCommandName(topic)) throw new UsageError(`unknown command "${topic}"`);
    return { kind: 'help', command: topic };
  }
  if (first === undefined) {
    if (values.help) return { kind: 'help' };
    throw new UsageError('missing a command');
  }
  if (!isCommandName(first)) throw new UsageError(`unknown command "${first}"`);
  if (values.help) return { kind: 'help', command: first };
  const { name, args } = first === 'audio' ? audioCommandOf(operands) : { name: first, args: operands };

  const allowed = new Set([...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[name]]);
  for (const token of tokens) {
    if (token.kind === 'option' && !allowed.has(token.name)) {
      throw new UsageError(`--${token.name} is not an option of ${name}`, first);
    }
  }
  const command = commandOf(name, args, optionReader(values, first));
  return {
    kind: 'run',
    command: withoutUndefined(command),
    json: values.json ?? false,
    connection: withoutUndefined({ apiUrl: values['api-url'], apiKey: values['api-key'] }),
  };
}

type ParsedValues = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>
>['values'];

/** Reads each option's value through its schema; a bad one is a usage error of the command. */
function optionReader(values: ParsedValues, command: CommandName) {
  const option = <T>(flag: OptionName, schema: z.ZodType<T>): T | undefined => {
    const value = values[flag];
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (!result.success) throw new UsageError(`--${flag}: ${result.error.issues[0]?.message}`, command);
    return result.data;
  };
  return {
    command,
    option,
    text: (flag: 'user' | 'callback-url' | 'idempotency-key' | 'page-token' | 'prefix') => option(flag, z.string()),
    on: (flag: 'wait' | 'all' | 'no-upload') => values[flag] ?? false,
    format: () => option('format', formatSchema),
  };
}

type OptionReader = ReturnType<typeof optionReader>;

/** The command, its operands and options checked. */
function commandOf(name: CliCommand['name'], args: string[], read: OptionReader): CliCommand {
  const first = read.command;
  const text = read.text;
  const option = read.option;
  const wait = read.on('wait');
  const format = read.format();
  switch (name) {
    case 'submit':
      if (args.length === 0) throw new UsageError('submit needs at least one audio file or path', first);
      return {
        name,
        audioChunkPaths: args,
        upload: !read.on('no-upload'),
        wait,
        format,
        userId: text('user'),
        callbackUrl: text('callback-url'),
        idempotencyKey: text('idempotency-key'),
      };
    case 'status':
      return { name, jobId: oneJobId(name, args), wait, format };
    case 'search': {
      const jobStatus = option('status', statusSchema);
      if (jobStatus === undefined) {
        throw new UsageError(`search needs --status, one of ${JOB_STATUSES.join(', ')}`, first);
      }
      if (args.length > 0) throw new UsageError(`search takes no operands, got "${args[0]}"`, first);
      return {
        name,
        jobStatus,
        userId: text('user'),
        limit: option('limit', limitSchema(100)),
        all: read.on('all'),
        pageToken: text('page-token'),
      };
    }
    case 'cancel':
      return { name, jobId: oneJobId(name, args) };
    case 'retry':
      return {
        name,
        jobId: oneJobId(name, args),
        wait,
        format,
        callbackUrl: text('callback-url'),
        idempotencyKey: text('idempotency-key'),
      };
    case 'audio ls':
      if (args.length > 0) throw new UsageError(`audio ls takes no operands, got "${args[0]}"`, first);
      return {
        name,
        prefix: text('prefix'),
        userId: text('user'),
        limit: option('limit', limitSchema(1000)),
        all: read.on('all'),
        pageToken: text('page-token'),
      };
    case 'audio rm':
      if (args.length === 0) throw new UsageError('audio rm needs at least one path', first);
      for (const each of args) {
        const problem = remotePathProblem(each);
        if (problem !== undefined) throw new UsageError(`audio rm: "${each}" ${problem}`, first);
      }
      return { name, paths: args, userId: text('user') };
    case 'audio upload':
      if (args.length === 0) throw new UsageError('audio upload needs at least one file', first);
      return { name, files: args, userId: text('user') };
  }
}

function isCommandName(value: string): value is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(value);
}

function audioCommandOf(operands: string[]): { name: `audio ${AudioCommandName}`; args: string[] } {
  const [subcommand, ...args] = operands;
  if (subcommand === undefined) {
    throw new UsageError(`audio needs a subcommand: ${AUDIO_COMMAND_NAMES.join(', ')}`, 'audio');
  }
  if (!(AUDIO_COMMAND_NAMES as readonly string[]).includes(subcommand)) {
    throw new UsageError(`unknown audio command "${subcommand}"`, 'audio');
  }
  return { name: `audio ${subcommand as AudioCommandName}`, args };
}

/**
 * The server judges a path, but only if it gets there: fetch resolves `.` and `..` segments of a URL (even
 * percent-encoded ones) before sending, so one that climbs out of `/audio/` would reach another route.
 */
function remotePathProblem(remotePath: string): string | undefined {
  if (remotePath === '') return 'is empty';
  const normalized = path.posix.normalize(remotePath);
  if (normalized === '..' || normalized.startsWith('../')) return 'leaves your audio space';
  return undefined;
}

function oneJobId(command: 'status' | 'cancel' | 'retry', operands: string[]): string {
  const [jobId, ...extra] = operands;
  if (jobId === undefined) throw new UsageError(`${command} needs a job id`, command);
  if (extra.length > 0) throw new UsageError(`${command} takes one job id, got ${operands.length}`, command);
  return jobId;
}

/** Node's messages end in advice about `--` that is beside the point here; keep the part that names the option. */
function describeParseError(err: unknown): string {
  const { code, message } = err as { code?: string; message: string };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    return option === undefined ? message : `unknown option ${option}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = /'(--[a-z-]+)/.exec(message)?.[1];
    if (option === undefined) return message;
    return message.includes('does not take an argument') ? `${option} takes no value` : `${option} needs a value`;
  }
  return message;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
