import { crossFieldProblems } from './checks';
import { deriveConfig, type ParsedSettings } from './derive-config';
import { listSettings, mapSettings, type ConfigProcess, type Setting } from './setting';
import { SETTINGS } from './settings';

/** Every setting by its variable's name. */
export const CONFIG_VARIABLES: Readonly<Record<string, Setting>> = Object.fromEntries(
  listSettings(SETTINGS).map(({ setting }) => [setting.env, setting]),
);

/** Why a process refuses to start: every problem of its configuration, one per line, naming the variables. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Config = ReturnType<typeof deriveConfig>;
/**
 * The worker's configuration: ASR_URL is `requiredBy: ['worker']`, so loading for the worker guarantees it (the
 * config test pins that list).
 */
export type WorkerConfig = Config & { asr: { url: string } };

interface LoadOptions {
  /** The process that loads the configuration: the settings it requires are checked with the rest. */
  process?: ConfigProcess;
}

/**
 * Reads and validates the configuration, once at start-up. Throws one {@link ConfigError} listing every problem:
 * bad values, settings that contradict each other, and settings the process requires but that are unset.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: { process: 'worker' }): WorkerConfig;
export function loadConfig(env?: NodeJS.ProcessEnv, options?: LoadOptions): Config;
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const byVariable: Record<string, unknown> = {};
  const unparsed = new Set<string>();
  const parsed = mapSettings(SETTINGS, (setting) => {
    const raw = valueIn(env, setting);
    const result = setting.schema.safeParse(raw ?? setting.default);
    if (result.success) {
      byVariable[setting.env] = result.data;
      return result.data;
    }
    unparsed.add(setting.env);
    // A secret's value never reaches a log or terminal, even when it is wrong.
    const shown = setting.secret ? '(hidden)' : JSON.stringify(raw);
    problems.push(`${setting.env}=${shown}: ${result.error.issues.map((issue) => issue.message).join(', ')}`);
    return undefined;
  });
  problems.push(...crossFieldProblems(byVariable, unparsed));
  if (options.process !== undefined) problems.push(...missingFor(options.process, byVariable, unparsed));
  if (problems.length > 0) throw new ConfigError(problems);
  // With no problems, every setting's schema accepted its value, so `parsed` has the tree's parsed shape.
  return deepFreeze(deriveConfig(parsed as ParsedSettings));
}

/** Whether the environment sets the variable of a setting (an empty value counts as unset, as when loading). */
export function isSet(env: NodeJS.ProcessEnv, setting: Setting): boolean {
  return valueIn(env, setting) !== undefined;
}

function valueIn(env: NodeJS.ProcessEnv, setting: Setting): string | undefined {
  const raw = env[setting.env];
  return raw === '' ? undefined : raw;
}

function missingFor(
  forProcess: ConfigProcess,
  values: Readonly<Record<string, unknown>>,
  unparsed: ReadonlySet<string>,
): string[] {
  return (
    listSettings(SETTINGS)
      .filter(({ setting }) => setting.requiredBy.includes(forProcess))
      // A variable that could not be parsed is reported as such, not also as missing.
      .filter(({ setting }) => values[setting.env] === undefined && !unparsed.has(setting.env))
      .map(({ setting }) => `${setting.env}: required by the ${forProcess}`)
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
