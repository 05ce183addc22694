/**
 * `npm run cluster` for real: the Temporal server built from the compose file's release, one process per service,
 * on PostgreSQL, started through `startCluster()` in a temp DATA_DIR, then the service run against it over HTTP.
 * Needs `bash scripts/setup.sh temporal temporal-server postgres` and `npm run build` (the worker process).
 */
import { temporal } from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCluster, type Cluster, type ClusterOptions } from '../../src/cluster/cluster';
import { HISTORY_SHARDS } from '../../src/cluster/server-config';
import { acceptsConnections } from '../../src/process/free-port';
import { ClusterStack } from '../support/cluster-stack';
import { PROJECT_ROOT, pollUntil } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

const RUNNING = temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
const execFileAsync = promisify(execFile);
const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
const TEMPORAL_CLI = path.join(TOOLS_DIR, 'venv', 'bin', 'temporal');

/** `temporal <args>` against the cluster, as an operator would type it; its stdout. */
async function cli(cluster: Cluster, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(TEMPORAL_CLI, [...args, '--address', cluster.address], { timeout: 30_000 });
  return stdout;
}

describe('npm run cluster: Temporal on PostgreSQL, one process per service', () => {
  let dir: string;
  let cluster: Cluster;
  let stack: ClusterStack;
  const options = (): ClusterOptions => ({
    dir: path.join(dir, 'cluster'),
    toolsDir: TOOLS_DIR,
    port: 0,
    uiPort: 0,
    namespace: 'default',
    retentionDays: 7,
    startupTimeoutMs: 120_000,
  });

  beforeAll(async () => {
    dir = await tempDir('cluster');
    // Under root, PostgreSQL runs as the postgres user, which has to pass through this 0700 folder to its data.
    await chmod(dir, 0o711);
    cluster = await startCluster(options());
    stack = await ClusterStack.start({ temporalAddress: cluster.address });
    await stack.startWorker();
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('when it has started, then each service runs in a process of its own, whose pid is in <service>-<n>.pid', async () => {
    expect(cluster.processes.map((process) => process.name)).toEqual([
      'history-1',
      'history-2',
      'matching-1',
      'worker-1',
      'frontend-1',
      'ui-1',
    ]);
    const pids = path.join(options().dir, 'pids');
    expect((await readdir(pids)).sort()).toEqual(cluster.processes.map((process) => `${process.name}.pid`).sort());
    for (const process of cluster.processes.filter((each) => each.name !== 'ui-1')) {
      const pid = Number(await readFile(path.join(pids, `${process.name}.pid`), 'utf8'));
      expect(pid).toBe(process.pid);
      // The pid is the server's own, running the one service its name says.
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      expect(command).toEqual(expect.arrayContaining(['start', '--service', process.name.replace(/-\d+$/, '')]));
      expect(path.basename(command[0]!)).toBe('temporal-server');
    }
    expect(new Set(cluster.processes.map((process) => process.pid)).size).toBe(cluster.processes.length);
  });

  it('when asked with the Temporal CLI, then the frontend is SERVING, and the namespace job has made the namespace and its search attribute', async () => {
    expect((await cli(cluster, 'operator', 'cluster', 'health')).trim()).toBe('SERVING');
    const namespace = JSON.parse(
      await cli(cluster, 'operator', 'namespace', 'describe', '-n', 'default', '-o', 'json'),
    );
    expect(namespace.config.workflowExecutionRetentionTtl).toBe(`${7 * 24 * 3600}s`);
    const attributes = JSON.parse(
      await cli(cluster, 'operator', 'search-attribute', 'list', '-n', 'default', '-o', 'json'),
    );
    expect(attributes.customAttributes).toEqual({ TranscriptionUserId: 'INDEXED_VALUE_TYPE_KEYWORD' });
  });

  it('when the Web UI is opened, then it answers from the frontend, for the namespace', async () => {
    const page = await fetch(cluster.uiUrl!);
    expect(page.status).toBe(200);
    const settings = (await (await fetch(`${cluster.uiUrl}/api/v1/settings`)).json()) as Record<string, unknown>;
    expect(settings).toMatchObject({ DefaultNamespace: 'default', Version: expect.any(String) });
    const namespaces = (await (await fetch(`${cluster.uiUrl}/api/v1/namespaces`)).json()) as {
      namespaces: { namespaceInfo: { name: string } }[];
    };
    expect(namespaces.namespaces.map((each) => each.namespaceInfo.name)).toContain('default');
  });

  it('when a job is submitted over HTTP, then it completes with its transcript, and is still there after the cluster restarts on its data', async () => {
    await stack.writeChunk('cluster/part-1.wav', { transcript: 'one cluster' });
    await stack.writeChunk('cluster/part-2.wav', { transcript: 'many processes' });
    const jobId = await stack.submit(['cluster/part-1.wav', 'cluster/part-2.wav']);
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'one cluster many processes' });
    // The job's record of its end is written just before its workflow closes: the restart is of a closed workflow.
    const status = async () =>
      (
        await stack.temporal.workflowService.describeWorkflowExecution({
          namespace: 'default',
          execution: { workflowId: jobId },
        })
      ).workflowExecutionInfo?.status;
    await pollUntil(status, (current) => current !== RUNNING);

    await cluster.stop();
    for (const process of cluster.processes) expect(process.pid).toBeUndefined();
    cluster = await startCluster({ ...options(), ports: cluster.ports });

    // Temporal still has the workflow, from the data the first run left in PostgreSQL (asked raw: its memo is
    // encrypted, and this client has no codec).
    expect(await status()).toBe(temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    expect(await stack.request('GET', `/transcript/${jobId}`, 'alice')).toMatchObject({
      status: 200,
      json: { jobStatus: 'completed', transcription: 'one cluster many processes' },
    });
    // The API and the worker, which kept running, carry on with the cluster that came back at the same address.
    await stack.writeChunk('cluster/after.wav', { transcript: 'after the restart' });
    const next = await stack.waitForJob(await stack.submit(['cluster/after.wav']));
    expect(next).toMatchObject({ jobStatus: 'completed', transcription: 'after the restart' });
  });

  it('when started again on the same data with another shard count, then it refuses, naming both, and leaves nothing running', async () => {
    await cluster.stop();
    const ports = cluster.ports;
    await expect(startCluster({ ...options(), ports, shards: HISTORY_SHARDS / 2 })).rejects.toThrow(
      `created with ${HISTORY_SHARDS} history shards, and ${HISTORY_SHARDS / 2} are configured`,
    );
    expect(await acceptsConnections(ports.postgres)).toBe(false);
    for (const process of ports.processes) expect(await acceptsConnections(process.grpc)).toBe(false);
    expect(existsSync(path.join(options().dir, 'pids', 'frontend-1.pid'))).toBe(false);
  });
});
