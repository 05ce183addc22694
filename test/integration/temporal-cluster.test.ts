import { msToTs } from '@temporalio/common/lib/time';
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/process/free-port';
import { startDevServer, type DevServerOptions } from '../../src/temporal/dev-server';
import { ServiceStack, PROJECT_ROOT } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

jest.mock('../../src/process/free-port', () => {
  const actual = jest.requireActual<typeof import('../../src/process/free-port')>('../../src/process/free-port');
  return { freePort: jest.fn(actual.freePort) };
});

/** Runs a worker process with `env` until it exits, and answers with its exit code and what it wrote to stderr. */
function runWorkerUntilExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const worker = fork(path.join(PROJECT_ROOT, 'dist', 'src', 'worker', 'main.js'), [], { env, stdio: 'pipe' });
  let stderr = '';
  worker.stdout?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  worker.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => worker.once('exit', (code) => resolve({ code, stderr })));
}

/**
 * The service against a Temporal server whose namespace operators prepare, as in production. Its TLS settings
 * (TEMPORAL_TLS_*) are tested against the real cluster's mutual TLS, in test/cluster/cluster-tls.test.ts.
 */
describe('the service against a Temporal server: a namespace operators prepare, TLS files it cannot read', () => {
  let stack: ServiceStack;

  beforeAll(async () => {
    stack = await ServiceStack.start();
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('when operators prepare the namespace and have not registered the search attribute, then the worker refuses to start, saying how', async () => {
    await stack.temporal.connection.workflowService.registerNamespace({
      namespace: 'unprepared',
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const { code, stderr } = await runWorkerUntilExit({
      ...stack.env,
      TEMPORAL_NAMESPACE: 'unprepared',
      TEMPORAL_PREPARE_NAMESPACE: 'false',
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      'namespace unprepared lacks the search attribute TranscriptionUserId; register it (temporal operator search-attribute create --namespace unprepared --name TranscriptionUserId --type KEYWORD)',
    );
  });

  it('when a TLS file cannot be read, then the worker stops at once, naming the variable', async () => {
    const { code, stderr } = await runWorkerUntilExit({ ...stack.env, TEMPORAL_TLS_CA_FILE: '/nonexistent/ca.pem' });
    expect(code).toBe(1);
    expect(stderr).toContain('TEMPORAL_TLS_CA_FILE=\\"/nonexistent/ca.pem\\": cannot be read (ENOENT)');
  });
});

describe("the embedded dev server's ports", () => {
  let squatter: Server;
  let taken: number;
  const retries: string[] = [];
  const options = async (port: number): Promise<DevServerOptions> => ({
    toolsDir: path.join(PROJECT_ROOT, '.tools'),
    dbFilename: path.join(await tempDir('dev-server-ports'), 'temporal.sqlite'),
    port,
    namespace: 'default',
    startupTimeoutMs: 120_000,
    onRetry: (reason) => retries.push(reason),
  });

  beforeEach(async () => {
    retries.length = 0;
    taken = await freePort();
    // Another program's server: it takes the port, and speaks no gRPC to whoever connects.
    squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  });

  it('when the port it picked is taken before the CLI binds it, then it starts again on another and says why', async () => {
    jest.mocked(freePort).mockClear().mockResolvedValueOnce(taken);
    const server = await startDevServer(await options(0));
    try {
      expect(server.address).not.toBe(`127.0.0.1:${taken}`);
      expect(jest.mocked(freePort)).toHaveBeenCalledTimes(2);
      expect(retries).toEqual([expect.stringContaining(`lost port ${taken} to another process (attempt 1 of 5)`)]);
    } finally {
      await server.stop();
    }
  });

  it('when the port it was given by number is taken, then the start fails at once, naming that port', async () => {
    await expect(startDevServer(await options(taken))).rejects.toThrow(`can't set frontend port ${taken}`);
    expect(retries).toEqual([]);
  });
});
