/** What `npm run bench -- …` was asked to run. */
export interface BenchArgs {
  /** `--profile`: the Temporal side's burst once under profilers, instead of the comparison. */
  profile: boolean;
  /** `--systems a,b`: the systems to run, in the order given; every system when absent. */
  systems: string[];
  /** Scenario names given as plain arguments; every scenario when none. */
  scenarios: string[];
  /** `--out DIR`: where the report, its plots and results.json go (docs/benchmark by default). */
  out: string | undefined;
  /** `--history FILE`: where the run's headline figures are appended (docs/benchmark/history.jsonl by default). */
  history: string | undefined;
}

/** Thrown for arguments the benchmark does not know, with what it would have accepted. */
export class BenchArgsError extends Error {}

/**
 * Reads `[--profile] [--systems a,b] [--out DIR] [--history FILE] [scenario …]`; `--option=value` works too. Unknown
 * systems, scenarios and options are refused, naming the known ones, before anything starts.
 */
export function parseBenchArgs(
  args: readonly string[],
  known: { systems: readonly string[]; scenarios: readonly string[] },
): BenchArgs {
  const parsed: BenchArgs = {
    profile: false,
    systems: [...known.systems],
    scenarios: [],
    out: undefined,
    history: undefined,
  };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const [option, inline] = arg.startsWith('--') ? splitOption(arg) : [undefined, undefined];
    const value = () => {
      const next = inline ?? args[(index += 1)];
      if (next === undefined || next === '') throw new BenchArgsError(`${option} needs a value`);
      return next;
    };
    if (option === '--profile') parsed.profile = true;
    else if (option === '--systems') parsed.systems = systemList(value(), known.systems);
    else if (option === '--out') parsed.out = value();
    else if (option === '--history') parsed.history = value();
    else if (option !== undefined) {
      throw new BenchArgsError(`unknown option ${option} (known: --systems a,b, --out DIR, --history FILE, --profile)`);
    } else if (known.scenarios.includes(arg)) parsed.scenarios.push(arg);
    else throw new BenchArgsError(`unknown scenario ${arg} (known: ${known.scenarios.join(', ')})`);
  }
  return parsed;
}

function splitOption(arg: string): [string, string | undefined] {
  const equals = arg.indexOf('=');
  return equals < 0 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
}

function systemList(list: string, known: readonly string[]): string[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new BenchArgsError(`unknown system ${unknown.join(', ') || '(none)'} (known: ${known.join(', ')})`);
  }
  return [...new Set(names)];
}
