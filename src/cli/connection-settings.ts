import { z } from 'zod';
import { UsageError, type ConnectionFlags } from './cli-args';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** Where the API is and the key to it, validated once; the client reads nothing else. */
export interface ConnectionSettings {
  /** The API's base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** Sent as `Authorization: Bearer <key>`; without one, only a service with auth turned off answers. */
  readonly apiKey: string | undefined;
}

const settingsSchema = z.object({
  apiUrl: z
    .string()
    .trim()
    .min(1, { error: 'is empty', abort: true })
    .refine((value) => URL.canParse(value), 'is not a URL, e.g. http://127.0.0.1:3000')
    .transform((value) => new URL(value))
    .refine((url) => url.protocol === 'http:' || url.protocol === 'https:', 'must be an http:// or https:// URL')
    // fetch refuses URLs with credentials, and a key in a URL ends up in shell history and proxy logs.
    .refine((url) => url.username === '' && url.password === '', 'must not carry credentials; give the key apart')
    .refine((url) => url.search === '' && url.hash === '', 'must not have a query or fragment')
    .transform((url) => url.href.replace(/\/+$/, '')),
  apiKey: z
    .string()
    .trim()
    .min(1, { error: 'is empty', abort: true })
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
});

/**
 * The API address and key: a flag wins over its environment variable (`TRANSCRIBE_API_URL`, default
 * http://127.0.0.1:3000; `TRANSCRIBE_API_KEY`), an empty variable counts as unset, and a bad value is a usage
 * error naming where it came from.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ConnectionSettings {
  const url = pick(flags.apiUrl, '--api-url', env.TRANSCRIBE_API_URL, 'TRANSCRIBE_API_URL');
  const key = pick(flags.apiKey, '--api-key', env.TRANSCRIBE_API_KEY, 'TRANSCRIBE_API_KEY');
  const result = settingsSchema.safeParse({ apiUrl: url.value ?? DEFAULT_API_URL, apiKey: key.value });
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path[0] === 'apiUrl' ? url.source : key.source}: ${issue.message}`,
    );
    throw new UsageError(problems.join('; '));
  }
  return Object.freeze({ apiUrl: result.data.apiUrl, apiKey: result.data.apiKey });
}

function pick(flag: string | undefined, flagName: string, variable: string | undefined, variableName: string) {
  if (flag !== undefined) return { value: flag, source: flagName };
  if (variable !== undefined && variable !== '') return { value: variable, source: variableName };
  return { value: undefined, source: variableName };
}
