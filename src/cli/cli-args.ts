import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { JOB_STATUSES, type JobStatus } from '../../workflows/contract';
import { TRANSCRIPT_FORMATS } from '../http/request-schemas';

export const COMMAND_NAMES = ['submit', 'status', 'search', 'cancel', 'retry'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
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
      audioChunkPaths: string[];
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
    };

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
} as const satisfies ParseArgsConfig['options'];

type OptionName = keyof typeof OPTIONS;

const GLOBAL_OPTIONS: readonly OptionName[] = ['api-url', 'api-key', 'json', 'help', 'version'];

/** The options each command takes besides the global ones. */
const COMMAND_OPTIONS: Readonly<Record<CommandName, readonly OptionName[]>> = {
  submit: ['wait', 'format', 'user', 'callback-url', 'idempotency-key'],
  status: ['wait', 'format'],
  search: ['status', 'user', 'limit', 'all', 'page-token'],
  cancel: [],
  retry: ['wait', 'format', 'callback-url', 'idempotency-key'],
};

const formatSchema = z.enum(TRANSCRIPT_FORMATS, { message: `must be one of ${TRANSCRIPT_FORMATS.join(', ')}` });
const statusSchema = z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` });
const limitMessage = 'must be a whole number from 1 to 100';
const limitSchema = z
  .string()
  .regex(/^\d+$/, limitMessage)
  .transform(Number)
  .pipe(z.number().min(1, limitMessage).max(100, limitMessage));

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

  const allowed = new Set([...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[first]]);
  for (const token of tokens) {
    if (token.kind === 'option' && !allowed.has(token.name)) {
      throw new UsageError(`--${token.name} is not an option of ${first}`, first);
    }
  }
  const option = <T>(name: OptionName, schema: z.ZodType<T>): T | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (!result.success) throw new UsageError(`--${name}: ${result.error.issues[0]?.message}`, first);
    return result.data;
  };
  const text = (name: 'user' | 'callback-url' | 'idempotency-key' | 'page-token') => option(name, z.string());
  const wait = values.wait ?? false;
  const format = option('format', formatSchema);

  const command = ((): CliCommand => {
    switch (first) {
      case 'submit':
        if (operands.length === 0) throw new UsageError('submit needs at least one audio chunk path', first);
        return {
          name: first,
          audioChunkPaths: operands,
          wait,
          format,
          userId: text('user'),
          callbackUrl: text('callback-url'),
          idempotencyKey: text('idempotency-key'),
        };
      case 'status':
        return { name: first, jobId: oneJobId(first, operands), wait, format };
      case 'search': {
        const jobStatus = option('status', statusSchema);
        if (jobStatus === undefined) {
          throw new UsageError(`search needs --status, one of ${JOB_STATUSES.join(', ')}`, first);
        }
        if (operands.length > 0) throw new UsageError(`search takes no operands, got "${operands[0]}"`, first);
        return {
          name: first,
          jobStatus,
          userId: text('user'),
          limit: option('limit', limitSchema),
          all: values.all ?? false,
          pageToken: text('page-token'),
        };
      }
      case 'cancel':
        return { name: first, jobId: oneJobId(first, operands) };
      case 'retry':
        return {
          name: first,
          jobId: oneJobId(first, operands),
          wait,
          format,
          callbackUrl: text('callback-url'),
          idempotencyKey: text('idempotency-key'),
        };
    }
  })();
  return {
    kind: 'run',
    command: withoutUndefined(command),
    json: values.json ?? false,
    connection: withoutUndefined({ apiUrl: values['api-url'], apiKey: values['api-key'] }),
  };
}

function isCommandName(value: string): value is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(value);
}

function oneJobId(command: CommandName, operands: string[]): string {
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
