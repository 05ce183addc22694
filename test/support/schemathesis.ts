import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from './service-stack';

export interface FuzzOptions {
  specUrl: string;
  /** Sent for the document's `bearer` security scheme, so Schemathesis knows it is the credential (and can leave
   * it out to check that the API then refuses the request). */
  bearerToken: string;
  /** Test cases per operation and phase. */
  maxExamples: number;
  seed: number;
  reportDir: string;
  timeoutMs: number;
  /** Checks left out, each with the reason it does not apply to this API. */
  excludeChecks?: Record<string, string>;
}

export interface FuzzResult {
  exitCode: number | null;
  output: string;
  /** How many requests Schemathesis sent, from its own event log. */
  requests: number;
  operations: number;
}

/** The Schemathesis that `npm run setup` installed (scripts/install-pinned-wheels.sh). */
export function schemathesisExecutable(): string {
  return path.join(
    process.env.TEMPORAL_TOOLS_DIR ?? path.join(PROJECT_ROOT, '.tools'),
    'fuzz-venv',
    'bin',
    'schemathesis',
  );
}

/**
 * Runs Schemathesis against a live API: every check, every phase (examples from the document, boundary coverage,
 * random fuzzing, and stateful sequences), one worker so the run is reproducible from its seed, and no example
 * database written anywhere. Counts the requests from its NDJSON event log.
 */
export async function runSchemathesis(options: FuzzOptions): Promise<FuzzResult> {
  const ndjson = path.join(options.reportDir, 'events.ndjson');
  const configFile = path.join(options.reportDir, 'schemathesis.toml');
  // The token stays in the environment; the file only names it.
  await writeFile(
    configFile,
    [
      '[auth.openapi.bearer]',
      'bearer = "${FUZZ_BEARER_TOKEN}"',
      // Refusing an oversized body (413), URL (414) or header block (431) is refusing invalid data too.
      '[checks.negative_data_rejection]',
      'expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, 431, "5xx"]',
      '',
    ].join('\n'),
  );
  const args = [
    '--config-file',
    configFile,
    'run',
    options.specUrl,
    '--checks',
    'all',
    ...(options.excludeChecks ? ['--exclude-checks', Object.keys(options.excludeChecks).join(',')] : []),
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--max-examples',
    String(options.maxExamples),
    '--seed',
    String(options.seed),
    '--workers',
    '1',
    '--generation-database',
    'none',
    '--report',
    'junit,ndjson',
    '--report-dir',
    options.reportDir,
    '--report-ndjson-path',
    ndjson,
    '--no-color',
  ];
  const child = spawn(schemathesisExecutable(), args, {
    cwd: options.reportDir,
    env: { ...process.env, NO_COLOR: '1', COLUMNS: '160', FUZZ_BEARER_TOKEN: options.bearerToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  const { requests, operations } = await countRequests(ndjson);
  return { exitCode, output, requests, operations };
}

async function countRequests(ndjson: string): Promise<{ requests: number; operations: number }> {
  let text = '';
  try {
    text = await readFile(ndjson, 'utf8');
  } catch {
    return { requests: 0, operations: 0 };
  }
  let requests = 0;
  const operations = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as Record<string, unknown>;
    const [kind] = Object.keys(event);
    if (kind !== 'ScenarioFinished') continue;
    const payload = event[kind] as { recorder?: { interactions?: Record<string, unknown>; label?: string } };
    requests += Object.keys(payload.recorder?.interactions ?? {}).length;
    if (payload.recorder?.label) operations.add(payload.recorder.label);
  }
  return { requests, operations: operations.size };
}
