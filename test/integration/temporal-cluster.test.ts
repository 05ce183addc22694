import { msToTs } from '@temporalio/common/lib/time';
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/process/free-port';
import { startDevServer, type DevServerOptions } from '../../src/temporal/dev-server';
import { ServiceStack, PROJECT_ROOT } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';
import { TLS_FRONT_NAME, TlsFront, makeTestCertificates, type TestCertificates } from '../support/tls-front';

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

describe('the service against a Temporal cluster: mutual TLS, a namespace operators prepare', () => {
  let certificates: TestCertificates;
  let front: TlsFront;
  let stack: ServiceStack;

  beforeAll(async () => {
    certificates = await makeTestCertificates();
    stack = await ServiceStack.start({
      temporalAddress: async (devServerAddress) => {
        front = await TlsFront.start(certificates, devServerAddress);
        return front.address;
      },
      env: {
        TEMPORAL_TLS_CA_FILE: certificates.caFile,
        TEMPORAL_TLS_CERT_FILE: certificates.clientCertFile,
        TEMPORAL_TLS_KEY_FILE: certificates.clientKeyFile,
        TEMPORAL_TLS_SERVER_NAME: TLS_FRONT_NAME,
      },
    });
    await stack.writeChunk('tls/part-1.wav', { transcript: 'sent over TLS' });
    await stack.startWorker();
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await front?.stop();
  });

  it('when the API and worker hold the client certificate, then a job runs end to end through the TLS front', async () => {
    const jobId = await stack.submit('alice', ['tls/part-1.wav']);
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'sent over TLS' });
    expect(front.authorized).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['no client certificate', { TEMPORAL_TLS_CERT_FILE: '', TEMPORAL_TLS_KEY_FILE: '' }],
    [
      'a certificate from another CA',
      { TEMPORAL_TLS_CERT_FILE: 'stranger-cert', TEMPORAL_TLS_KEY_FILE: 'stranger-key' },
    ],
  ])('when a worker has %s, then the front refuses it and the worker stops, naming Temporal', async (_, change) => {
    const refusedBefore = front.refused;
    const files: Record<string, string> = {
      'stranger-cert': certificates.strangerCertFile,
      'stranger-key': certificates.strangerKeyFile,
    };
    const env: NodeJS.ProcessEnv = { ...stack.env, TEMPORAL_STARTUP_TIMEOUT_MS: '3000' };
    for (const [name, value] of Object.entries(change)) env[name] = files[value] ?? value;
    const { code, stderr } = await runWorkerUntilExit(env);
    expect(code).toBe(1);
    expect(stderr).toContain(`Temporal at ${front.address} did not answer within 3000 ms`);
    expect(front.refused).toBeGreaterThan(refusedBefore);
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
