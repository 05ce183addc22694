import { readFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../logger';
import { onShutdown } from '../process/process-lifecycle';
import { generateS3Credentials, s3ServiceEnv, startS3Proxy, type S3Credentials } from './s3proxy';

const BUCKET = 'audio';
const DEFAULT_PORT = 9000;

/**
 * `npm run s3`: a local S3-compatible server (s3proxy) for the audio store, keeping its objects in `$DATA_DIR/s3`
 * and its keys in `$DATA_DIR/s3-credentials.json`, so both survive restarts. A development tool on its own, so it
 * reads its few variables directly rather than through the service's config.
 */
async function main(): Promise<void> {
  const logger = createLogger('s3', process.env.LOG_LEVEL ?? 'info');
  const dataDir = path.resolve(process.env.DATA_DIR ?? './data');
  const port = parsePort(process.env.S3_PORT ?? String(DEFAULT_PORT));
  await mkdir(dataDir, { recursive: true });
  const credentialsFile = path.join(dataDir, 's3-credentials.json');
  const credentials = await stableCredentials(credentialsFile, () =>
    logger.info({ file: credentialsFile }, 'created S3 keys'),
  );
  const basedir = path.join(dataDir, 's3');
  const s3 = await startS3Proxy({
    toolsDir: path.resolve(process.env.TEMPORAL_TOOLS_DIR ?? './.tools'),
    basedir,
    port,
    bucket: BUCKET,
    credentials,
    onOutput: (line) => logger.debug({ s3proxy: line }, 's3proxy output'),
  });

  let stopping = false;
  onShutdown(
    async () => {
      stopping = true;
      await s3.stop();
    },
    (message) => logger.info(message),
  );
  void s3.exited.then((code) => {
    if (stopping) return;
    logger.error({ code }, 's3proxy exited');
    process.exit(1);
  });

  const env = Object.entries(s3ServiceEnv(s3)).map(([name, value]) => `${name}=${value}`);
  const lines = [
    '',
    `  S3 (s3proxy)        ${s3.endpoint}   bucket ${s3.bucket}, objects in ${basedir}`,
    `  Access key id       ${s3.accessKeyId}`,
    `  Secret access key   ${s3.secretAccessKey}   (both kept in ${credentialsFile})`,
    '',
    '  The service uses it with:',
    '',
    ...env,
    '',
    '  Ctrl-C stops it.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`S3_PORT must be a port number (0 picks a free one), not ${JSON.stringify(value)}`);
  }
  return port;
}

/** The keys in `file`, made on first use and readable by this account only, so clients keep working across restarts. */
async function stableCredentials(file: string, onCreated: () => void): Promise<S3Credentials> {
  try {
    await writeFile(file, `${JSON.stringify(generateS3Credentials(), null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    onCreated();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const saved = parseCredentials(await readFile(file, 'utf8'));
  if (!saved) {
    throw new Error(`${file} must hold {"accessKeyId": "...", "secretAccessKey": "..."}; delete it for new keys`);
  }
  return saved;
}

function parseCredentials(text: string): S3Credentials | undefined {
  try {
    const { accessKeyId, secretAccessKey } = (JSON.parse(text) ?? {}) as Partial<Record<keyof S3Credentials, unknown>>;
    if (typeof accessKeyId === 'string' && accessKeyId && typeof secretAccessKey === 'string' && secretAccessKey) {
      return { accessKeyId, secretAccessKey };
    }
  } catch {
    // not JSON: reported as a file of the wrong shape
  }
  return undefined;
}

main().catch((err: unknown) => {
  createLogger('s3', 'error').fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
