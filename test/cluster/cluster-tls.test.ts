/**
 * `npm run cluster` with mutual TLS (TEMPORAL_CLUSTER_TLS, on by default): the certificates made by
 * deploy/temporal/make-certificates.sh, the service's TEMPORAL_TLS_* settings against the real Temporal frontend,
 * the operators' tools, and what a client without the right certificate meets. One cluster for the whole file.
 * Needs `bash scripts/setup.sh temporal temporal-server postgres` and `npm run build` (the worker process).
 */
import { execFile, fork } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { serviceEnvironment, startCluster, type Cluster, type ClusterTls } from '../../src/cluster/cluster';
import {
  MAKE_CERTIFICATES_SCRIPT,
  TLS_FILES,
  TLS_SERVER_NAMES,
  certificateJobEnvironment,
  clientTls,
  type ClientTls,
} from '../../src/cluster/server-config';
import { ClusterStack } from '../support/cluster-stack';
import { PROJECT_ROOT } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

const execFileAsync = promisify(execFile);
const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
const TEMPORAL_CLI = path.join(TOOLS_DIR, 'venv', 'bin', 'temporal');
/** How long a worker that cannot get through waits for Temporal before it gives up. */
const REFUSED_WORKER_TIMEOUT_MS = 3000;

/** The CLI keeps its own configuration under HOME: an empty one, none of the developer's. */
let cliHome: string;

/** `temporal <args>` against the cluster as an operator types it, with `tls`'s certificate or none; its outcome. */
async function cli(cluster: Cluster, tls: Partial<ClientTls> | undefined, ...args: string[]) {
  const flags = [
    ...(tls?.caFile ? ['--tls-ca-path', tls.caFile] : []),
    ...(tls?.certFile ? ['--tls-cert-path', tls.certFile] : []),
    ...(tls?.keyFile ? ['--tls-key-path', tls.keyFile] : []),
    ...(tls?.serverName ? ['--tls-server-name', tls.serverName] : []),
  ];
  try {
    const { stdout } = await execFileAsync(
      TEMPORAL_CLI,
      [...args, '--address', cluster.address, '--command-timeout', '10s', ...flags],
      { timeout: 30_000, env: { PATH: process.env.PATH, HOME: cliHome } },
    );
    return { ok: true, output: stdout };
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout ?? ''}${stderr ?? ''}` };
  }
}

/** Runs a worker process with `env` until it exits; its exit code and what it wrote. */
function runWorkerUntilExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const worker = fork(path.join(PROJECT_ROOT, 'dist', 'src', 'worker', 'main.js'), [], { env, stdio: 'pipe' });
  let output = '';
  worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => worker.once('exit', (code) => resolve({ code, output })));
}

/**
 * Whether the TLS server at `port` lets in a client holding `tls`'s certificate: `accepted` once the handshake is
 * through, or the error it ends with. Over TLS 1.2, where the client's handshake ends only after the server has
 * checked its certificate (in TLS 1.3 the server's refusal comes after the client's end of it).
 */
async function handshake(port: number, tls: { caFile: string; certFile: string; keyFile: string }, name: string) {
  const [ca, cert, key] = await Promise.all([tls.caFile, tls.certFile, tls.keyFile].map((file) => readFile(file)));
  return new Promise<string>((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      cert,
      key,
      servername: name,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    const done = (outcome: string) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once('secureConnect', () => done('accepted'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.once('close', () => done('closed'));
    socket.setTimeout(15_000, () => done('silent'));
  });
}

describe('npm run cluster with mutual TLS: the service, operators and strangers at the frontend', () => {
  let dir: string;
  let cluster: Cluster;
  let tls: ClusterTls;
  let stack: ClusterStack;
  /** A whole set of certificates made by the same script elsewhere: another organisation's CAs. */
  let stranger: { service: ClientTls };

  beforeAll(async () => {
    dir = await tempDir('cluster-tls');
    cliHome = path.join(dir, 'cli-home');
    // Under root, PostgreSQL runs as the postgres user, which has to pass through this 0700 folder to its data.
    await chmod(dir, 0o711);
    cluster = await startCluster({
      dir: path.join(dir, 'cluster'),
      toolsDir: TOOLS_DIR,
      port: 0,
      uiPort: 0,
      namespace: 'default',
      retentionDays: 7,
      startupTimeoutMs: 120_000,
      tls: true,
    });
    tls = cluster.tls!;
    // What `npm run cluster` prints for `npm start`, given to the API and the worker.
    stack = await ClusterStack.start({ temporalAddress: cluster.address, env: serviceEnvironment(cluster) });
    await stack.startWorker();
    const strangerDir = path.join(dir, 'stranger-tls');
    await execFileAsync('sh', [MAKE_CERTIFICATES_SCRIPT], { env: certificateJobEnvironment(strangerDir) });
    stranger = { service: clientTls(strangerDir, 'service') };
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("when it has started, then the certificates are in the cluster's tls/ folder, each private key readable by its owner only", async () => {
    expect(tls.dir).toBe(path.join(dir, 'cluster', 'tls'));
    const files = (await readdir(tls.dir)).sort();
    const keys = ['client-ca', 'cluster-ca', 'frontend', 'internode', 'operator', 'service'];
    expect(files).toEqual(keys.flatMap((name) => [`${name}.key`, `${name}.pem`]));
    for (const key of files.filter((file) => file.endsWith('.key'))) {
      expect({ key, mode: (await stat(path.join(tls.dir, key))).mode & 0o777 }).toEqual({ key, mode: 0o600 });
    }
    const certificate = async (file: string) => new X509Certificate(await readFile(path.join(tls.dir, file)));
    const clusterCa = await certificate(TLS_FILES.clusterCa);
    const clientCa = await certificate(TLS_FILES.clientCa);
    const frontend = await certificate(TLS_FILES.frontend.cert);
    const service = await certificate(TLS_FILES.service.cert);
    // The frontend's certificate is the cluster CA's, for the name the service checks and the loopback address.
    expect(frontend.verify(clusterCa.publicKey)).toBe(true);
    expect(frontend.checkHost(TLS_SERVER_NAMES.frontend)).toBe(TLS_SERVER_NAMES.frontend);
    expect(frontend.checkIP('127.0.0.1')).toBe('127.0.0.1');
    // The service's is the client CA's, and not the cluster CA's.
    expect(service.verify(clientCa.publicKey)).toBe(true);
    expect(service.verify(clusterCa.publicKey)).toBe(false);
    expect(tls.service).toEqual(clientTls(tls.dir, 'service'));
  });

  it("when the API and worker hold the service's certificate, then a job submitted over HTTP completes through the TLS frontend", async () => {
    await stack.writeChunk('tls/part-1.wav', { transcript: 'sent over' });
    await stack.writeChunk('tls/part-2.wav', { transcript: 'mutual TLS' });
    const jobId = await stack.submit(['tls/part-1.wav', 'tls/part-2.wav']);
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'sent over mutual TLS' });
  });

  it("when an operator runs the Temporal CLI with the operators' certificate, then the frontend answers, and the namespace job has prepared the namespace over TLS", async () => {
    const health = await cli(cluster, tls.operator, 'operator', 'cluster', 'health');
    expect(health).toEqual({ ok: true, output: 'SERVING\n' });
    const attributes = await cli(cluster, tls.operator, 'operator', 'search-attribute', 'list', '-o', 'json');
    expect(JSON.parse(attributes.output).customAttributes).toEqual({
      TranscriptionUserId: 'INDEXED_VALUE_TYPE_KEYWORD',
    });
    // The same command trusting the frontend but holding no certificate is told why it gets nothing.
    const anonymous = await cli(
      cluster,
      { caFile: tls.operator.caFile, serverName: tls.operator.serverName },
      'operator',
      'cluster',
      'health',
    );
    expect(anonymous).toEqual({
      ok: false,
      output: expect.stringContaining('The server requires client certificates'),
    });
  });

  it('when the Web UI is opened, then it lists the namespaces it read from the frontend over mutual TLS', async () => {
    const response = await fetch(`${cluster.uiUrl}/api/v1/namespaces`);
    expect(response.status).toBe(200);
    const { namespaces } = (await response.json()) as { namespaces: { namespaceInfo: { name: string } }[] };
    expect(namespaces.map((each) => each.namespaceInfo.name)).toContain('default');
  });

  it.each([
    ['no client certificate', () => ({ TEMPORAL_TLS_CERT_FILE: '', TEMPORAL_TLS_KEY_FILE: '' })],
    [
      'a certificate from another CA',
      () => ({ TEMPORAL_TLS_CERT_FILE: stranger.service.certFile, TEMPORAL_TLS_KEY_FILE: stranger.service.keyFile }),
    ],
    [
      'no TLS at all',
      () => ({
        TEMPORAL_TLS_CA_FILE: '',
        TEMPORAL_TLS_CERT_FILE: '',
        TEMPORAL_TLS_KEY_FILE: '',
        TEMPORAL_TLS_SERVER_NAME: '',
      }),
    ],
  ])('when a worker has %s, then the frontend refuses it and the worker stops, naming Temporal', async (_, change) => {
    const { code, output } = await runWorkerUntilExit({
      ...stack.env,
      TEMPORAL_STARTUP_TIMEOUT_MS: String(REFUSED_WORKER_TIMEOUT_MS),
      ...change(),
    });
    expect(code).toBe(1);
    expect(output).toContain(`Temporal at ${cluster.address} did not answer within ${REFUSED_WORKER_TIMEOUT_MS} ms`);
  });

  it("when the service's certificate is presented at a history process, then both its ports refuse it: only the cluster's own processes talk to each other", async () => {
    const history = cluster.ports.processes.find((process) => process.name === 'history-1')!;
    const internode = {
      caFile: path.join(tls.dir, TLS_FILES.clusterCa),
      certFile: path.join(tls.dir, TLS_FILES.internode.cert),
      keyFile: path.join(tls.dir, TLS_FILES.internode.key),
    };
    // Its gRPC port and its membership port (ringpop, on TLS by the shared dynamic config).
    for (const port of [history.grpc, history.membership]) {
      expect({ port, internode: await handshake(port, internode, TLS_SERVER_NAMES.internode) }).toEqual({
        port,
        internode: 'accepted',
      });
      expect({ port, service: await handshake(port, tls.service, TLS_SERVER_NAMES.internode) }).toEqual({
        port,
        service: expect.stringMatching(/^ERR_SSL_/),
      });
    }
    // The frontend lets the service in, and refuses a certificate of another organisation's.
    const frontend = cluster.ports.processes.find((process) => process.name === 'frontend-1')!;
    expect(await handshake(frontend.grpc, tls.service, TLS_SERVER_NAMES.frontend)).toBe('accepted');
    expect(
      await handshake(frontend.grpc, { ...stranger.service, caFile: tls.service.caFile }, 'temporal-frontend'),
    ).toMatch(/^ERR_SSL_/);
  });
});
