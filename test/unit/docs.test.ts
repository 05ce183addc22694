import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { ANSWER_WITHIN_MS, UPLOAD_WITHIN_MS } from '../../src/api/deadlines';
import { MAX_WAIT_SECONDS } from '../../src/api/request-schemas';
import { generateApiKey } from '../../src/auth/api-keys';
import { signCallback } from '../../src/callbacks/callback-signature';
import { DEFAULT_API_URL } from '../../src/cli/connection-settings';
import { EXIT_CODES } from '../../src/cli/exit-codes';
import { loadConfig } from '../../src/config/config';

const ROOT = path.join(__dirname, '..', '..');

/** README.md and every Markdown file under docs/, as repository paths. */
function markdownFiles(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const child = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.md')) found.push(child);
    }
  };
  walk('docs');
  return found;
}

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

/** The lines outside fenced code blocks: links and headings inside those are text, not Markdown. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** A heading's anchor as GitHub makes it: its text lowercased, punctuation dropped, spaces turned into hyphens. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const match of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1] as string);
  }
  return anchors;
}

/** The link and image targets of a Markdown file, outside code: inline, reference definitions and HTML. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
      targets.push(match[1] as string);
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose)?.[1];
    if (definition !== undefined) targets.push(definition);
    for (const match of prose.matchAll(/\s(?:href|src)="([^"]+)"/g)) targets.push(match[1] as string);
  }
  return targets;
}

/** Why a relative link from `file` does not resolve, or undefined when it does; links to other sites are not checked. */
function brokenLink(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const hash = target.indexOf('#');
  const linkPath = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved =
    linkPath === ''
      ? file
      : path.posix.normalize(
          linkPath.startsWith('/') ? linkPath.slice(1) : path.posix.join(path.posix.dirname(file), linkPath),
        );
  if (resolved.startsWith('..')) return `${target}: leaves the repository`;
  if (!existsSync(path.join(ROOT, resolved))) return `${target}: no such file (${resolved})`;
  if (anchor === undefined || !resolved.endsWith('.md') || statSync(path.join(ROOT, resolved)).isDirectory()) {
    return undefined;
  }
  return anchorsOf(read(resolved)).has(anchor) ? undefined : `${target}: no heading with anchor #${anchor}`;
}

describe('links in the docs', () => {
  it('when a heading is turned into an anchor, then it follows GitHub’s rules', () => {
    expect(githubSlug('Command line: `transcribe`')).toBe('command-line-transcribe');
    expect(githubSlug('Reading a job: long polls and formats')).toBe('reading-a-job-long-polls-and-formats');
    expect(githubSlug('Temporal ÷ BullMQ')).toBe('temporal--bullmq');
    expect(githubSlug('`AUDIO_LAYOUT=shared`: single-tenant only')).toBe('audio_layoutshared-single-tenant-only');
    expect([...anchorsOf('# Plots\n\n```\n# not a heading\n```\n## Plots\n')]).toEqual(['plots', 'plots-1']);
  });

  it.each(markdownFiles())('when %s links to a file or a heading, then it exists', (file) => {
    const broken = linkTargets(read(file)).flatMap((target) => brokenLink(file, target) ?? []);
    expect(broken).toEqual([]);
  });
});

describe('numbers the docs restate from the code', () => {
  const config = loadConfig({});

  /** The chunk retry schedule as the docs put it: "3 attempts in all, 1 s then 2 s apart". */
  const retrySchedule = (() => {
    const { maximumAttempts, initialIntervalMs, backoffCoefficient, maximumIntervalMs } = config.chunkRetry;
    const gaps = Array.from({ length: maximumAttempts - 1 }, (_, retry) =>
      Math.min(initialIntervalMs * backoffCoefficient ** retry, maximumIntervalMs),
    );
    return `${maximumAttempts} attempts in all, ${gaps.map((ms) => `${ms / 1000} s`).join(' then ')} apart`;
  })();

  const callbackSchedule = (() => {
    const { maximumAttempts, initialIntervalMs, backoffCoefficient, maximumIntervalMs } = config.callbacks.retry;
    const growth = backoffCoefficient === 2 ? 'doubling' : `times ${backoffCoefficient}`;
    return `${initialIntervalMs / 1000} s, ${growth}, at most ${maximumIntervalMs / 60_000} minutes apart, ${maximumAttempts} attempts in all`;
  })();

  /** A default of the production compose file, `${NAME:-default}`, which must be the same wherever it is used. */
  const composeDefault = (name: string): string => {
    const found = new Set(
      [...read('docker-compose.temporal.yml').matchAll(new RegExp(`\\$\\{${name}:-([^}]*)\\}`, 'g'))].map(
        (match) => match[1] as string,
      ),
    );
    expect(found.size).toBe(1);
    return [...found][0] as string;
  };

  const apiKeyBits = Buffer.from(generateApiKey().replace(/^tsk_/, ''), 'base64url').length * 8;

  /** Each number a doc keeps, as the phrase it must contain when built from the code's own value. */
  const restated: { doc: string; owner: string; says: string }[] = [
    { doc: 'README.md', owner: 'MAX_CHUNKS_PER_JOB', says: `up to ${config.audio.maxChunksPerJob} audio chunks` },
    {
      doc: 'README.md',
      owner: 'MAX_CHUNK_BYTES and MAX_CHUNK_SECONDS',
      says: `up to ${config.audio.maxChunkBytes / 1024 ** 2} MiB and ${config.audio.maxChunkSeconds / 60} minutes`,
    },
    {
      doc: 'README.md',
      owner: 'AUDIO_UPLOAD_RETENTION_HOURS',
      says: `Uploads expire after ${config.audio.uploadRetentionHours} hours`,
    },
    { doc: 'README.md', owner: 'PORT', says: `the API's address (http://127.0.0.1:${config.api.port})` },
    { doc: 'README.md', owner: 'PORT', says: `API=http://transcribe-host:${config.api.port} ` },
    {
      doc: 'README.md',
      owner: 'TEMPORAL_UI_PORT',
      says: `the Temporal Web UI (http://127.0.0.1:${config.temporal.devServerUiPort})`,
    },
    { doc: 'README.md', owner: 'MAX_WAIT_SECONDS', says: `?wait=${MAX_WAIT_SECONDS}"` },
    { doc: 'README.md', owner: 'TEMPORAL_TASK_QUEUE', says: `task queue "${config.temporal.taskQueue}"` },
    { doc: 'docs/api.md', owner: 'CHUNK_MAX_ATTEMPTS and CHUNK_RETRY_*', says: `by default ${retrySchedule}` },
    { doc: 'docs/api.md', owner: 'MAX_WAIT_SECONDS', says: `(\`N\` up to ${MAX_WAIT_SECONDS} seconds)` },
    { doc: 'docs/api.md', owner: 'MAX_WAIT_SECONDS', says: `?wait=${MAX_WAIT_SECONDS}&format=vtt` },
    { doc: 'docs/api.md', owner: 'ANSWER_WITHIN_MS', says: `still answered within ${ANSWER_WITHIN_MS / 1000} s` },
    { doc: 'docs/api.md', owner: 'the callback retry policy', says: `by default ${callbackSchedule}` },
    {
      doc: 'docs/operations.md',
      owner: 'TEMPORAL_UI_PORT',
      says: `http://127.0.0.1:${config.temporal.devServerUiPort} (\`TEMPORAL_UI_PORT\`)`,
    },
    {
      doc: 'docs/operations.md',
      owner: 'PORT',
      says: `Sign in at http://127.0.0.1:${config.api.port}/codec/session`,
    },
    {
      doc: 'docs/operations.md',
      owner: 'API_PORT in the compose file',
      says: `the API on \`API_PORT\` (default ${composeDefault('API_PORT')})`,
    },
    {
      doc: 'docs/operations.md',
      owner: 'UI_PORT in the compose file',
      says: `the Web UI on \`UI_PORT\` (default ${composeDefault('UI_PORT')})`,
    },
    {
      doc: 'docs/operations.md',
      owner: 'UI_PORT in the compose file',
      says: `The Web UI at http://127.0.0.1:${composeDefault('UI_PORT')} decodes`,
    },
    {
      doc: 'docs/operations.md',
      owner: 'API_PORT in the compose file',
      says: `sign in once at http://127.0.0.1:${composeDefault('API_PORT')}/codec/session`,
    },
    {
      doc: 'docs/audio.md',
      owner: 'UPLOAD_WITHIN_MS and ANSWER_WITHIN_MS',
      says: `A slow client has ${UPLOAD_WITHIN_MS / 1000} s to send its file, which covers 5 MB at about 40 KB/s. Every other request is still answered within ${ANSWER_WITHIN_MS / 1000} s.`,
    },
    {
      doc: 'docs/audio.md',
      owner: 'AUDIO_UPLOAD_RETENTION_HOURS',
      says: `\`AUDIO_UPLOAD_RETENTION_HOURS\` (${config.audio.uploadRetentionHours})`,
    },
    {
      doc: 'docs/audio.md',
      owner: 'AUDIO_UPLOAD_EXPIRY_EVERY_MINUTES',
      says: `\`AUDIO_UPLOAD_EXPIRY_EVERY_MINUTES\` (${config.audio.uploadExpiryEveryMinutes})`,
    },
    { doc: 'docs/security.md', owner: 'generateApiKey', says: `(\`tsk_…\`, ${apiKeyBits} random bits)` },
    {
      doc: 'docs/security.md',
      owner: 'PORT',
      says: `--codec-endpoint http://127.0.0.1:${config.api.port}/codec`,
    },
    { doc: 'docs/cli.md', owner: 'DEFAULT_API_URL', says: `| \`TRANSCRIBE_API_URL\` | \`${DEFAULT_API_URL}\` |` },
  ];

  /** Whitespace collapsed, so rewrapping a paragraph does not matter. */
  const flat = (text: string) => text.replace(/\s+/g, ' ');

  it.each(restated)('when $doc restates $owner, then it says "$says" as the code does', ({ doc, says }) => {
    expect(flat(read(doc))).toContain(flat(says));
  });

  it('when docs/cli.md lists the exit codes, then they are the CLI’s own', () => {
    const section = read('docs/cli.md').split('## Exit codes')[1] ?? '';
    const listed = [...section.matchAll(/^\| (\d+) +\|/gm)].map((match) => Number(match[1]));
    expect(listed.sort((a, b) => a - b)).toEqual(Object.values(EXIT_CODES).sort((a, b) => a - b));
  });

  it('when a receiver runs the verification code of docs/api.md, then it accepts real callbacks and refuses others', () => {
    const snippet = /```js\n([\s\S]*?function verify[\s\S]*?)```/.exec(read('docs/api.md'))?.[1];
    expect(snippet).toBeDefined();
    const verify = runInNewContext(`${snippet}\nverify;`, { require, Buffer }) as (
      secret: string,
      timestamp: string,
      signature: string | undefined,
      rawBody: string,
    ) => boolean;
    const secret = 'a-signing-secret-of-at-least-32-characters';
    const body = '{"jobId":"job-1","jobStatus":"completed"}';
    const now = Math.floor(Date.now() / 1000);
    const signature = signCallback(secret, now, body);
    expect(verify(secret, String(now), signature, body)).toBe(true);
    expect(verify(secret, String(now), signature, body.replace('completed', 'failed'))).toBe(false);
    expect(verify('another-secret-of-at-least-32-characters', String(now), signature, body)).toBe(false);
    const old = now - 3600;
    expect(verify(secret, String(old), signCallback(secret, old, body), body)).toBe(false);
  });
});

describe('the docs as a whole', () => {
  it('when the README grows, then it stays a short page that links to the rest', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(200);
  });

  /**
   * Upper-case names the docs use that are not the service's settings: the CLI's variables, the production compose
   * file's, the Temporal server's, s3proxy's, the screenshots', and open(2) flags.
   */
  const NOT_SERVICE_SETTINGS = new Set([
    'TRANSCRIBE_API_URL',
    'TRANSCRIBE_API_KEY',
    'POSTGRES_PASSWORD',
    'JOBS_DATABASE_PASSWORD',
    'API_PORT',
    'UI_PORT',
    'TEMPORAL_FRONTEND_PORT',
    'AUDIO_DIR',
    'TEMPORAL_NUM_HISTORY_SHARDS',
    'TEMPORAL_TLS_DIR',
    'TEMPORAL_FRONTEND_HOSTS',
    'PROMETHEUS_ENDPOINT',
    'S3_PORT',
    'SCREENSHOTS_DIR',
    'O_NOFOLLOW',
    'O_NONBLOCK',
  ]);

  /** The name as a whole word: `API_KEYS` is not found inside `API_KEYS_FILE`. */
  const namesSetting = (text: string, name: string) => new RegExp(`(?<![A-Z0-9_])${name}(?![A-Z0-9_])`).test(text);

  it('when a doc names a setting of the service, then docs/configuration.md lists it', () => {
    expect(existsSync(path.join(ROOT, 'docs/configuration.md'))).toBe(true);
    const configurationDoc = read('docs/configuration.md');
    const unknown = markdownFiles()
      .filter((file) => file !== 'docs/configuration.md')
      .flatMap((file) =>
        proseLines(read(file)).flatMap((line) =>
          [...line.matchAll(/`\$?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?=[`=/ ])/g)]
            .map((match) => match[1] as string)
            .filter((name) => !NOT_SERVICE_SETTINGS.has(name) && !namesSetting(configurationDoc, name))
            .map((name) => `${file}: ${name}`),
        ),
      );
    expect([...new Set(unknown)]).toEqual([]);
  });
});
