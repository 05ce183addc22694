/**
 * How the history shard count weighs on this machine, measured on the real cluster (docs/cluster.md reports it).
 * Not a test: run it by hand, on an otherwise idle machine, with
 *   SHARD_COUNTS=16,64,128,512,1024,2048 npx jest --testMatch '<rootDir>/test/cluster/measure-shards.ts' --testTimeout 3600000
 * For each shard count: a fresh cluster's start, its CPU at rest, a burst of 200 workflows of 5 activities each
 * (1000 activities, like the benchmark's 1000-chunk burst) and the time until work runs again after SIGKILL of one
 * history process, whose shards move to the other.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { chmod, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type Cluster } from '../../src/cluster/cluster';
import { PROJECT_ROOT } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

const SHARD_COUNTS = (process.env.SHARD_COUNTS ?? '16,64,128,512,1024').split(',').map(Number);
const WORKFLOWS = 200;
const ACTIVITIES = 5;
const IDLE_SECONDS = 30;
const TICKS = 100;

/** CPU seconds (user + system) of a process, with its reaped children's. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return fields.slice(11, 15).reduce((sum, value) => sum + Number(value), 0) / TICKS;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

/** PostgreSQL's postmaster and its live children (connections, background workers). */
async function postgresPids(postmaster: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat.split(') ')[1]?.split(' ')[1] === String(postmaster)) children.push(Number(entry));
  }
  return [postmaster, ...children];
}

/** CPU seconds by part: each Temporal process, and PostgreSQL as a whole. */
async function cpuByPart(cluster: Cluster): Promise<Record<string, number>> {
  const parts: Record<string, number> = {};
  for (const process of cluster.processes) if (process.pid) parts[process.name] = await cpuSeconds(process.pid);
  let postgres = 0;
  for (const pid of await postgresPids(cluster.postgres().pid)) postgres += await cpuSeconds(pid).catch(() => 0);
  parts.postgres = postgres;
  return parts;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([part, value]) => [part, Math.round((value - (before[part] ?? 0)) * 100) / 100]),
  );
}

const total = (parts: Record<string, number>) =>
  Math.round(Object.values(parts).reduce((a, b) => a + b, 0) * 100) / 100;

async function burst(client: Client, taskQueue: string): Promise<{ seconds: number; p50: number; p95: number }> {
  const started = Date.now();
  const latencies = await Promise.all(
    Array.from({ length: WORKFLOWS }, async (_, index) => {
      const begin = Date.now();
      await client.workflow.execute('fanOut', {
        taskQueue,
        workflowId: `burst-${taskQueue}-${index}`,
        args: [ACTIVITIES],
      });
      return Date.now() - begin;
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    seconds: (Date.now() - started) / 1000,
    p50: latencies[Math.floor(latencies.length / 2)]! / 1000,
    p95: latencies[Math.floor(latencies.length * 0.95)]! / 1000,
  };
}

/** After SIGKILL of history-2: seconds until workflows started at once complete again (their shards have moved). */
async function failover(cluster: Cluster, client: Client, taskQueue: string): Promise<number> {
  await cluster.process('history-2').kill();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, (_, index) =>
      client.workflow.execute('fanOut', { taskQueue, workflowId: `failover-${taskQueue}-${index}`, args: [1] }),
    ),
  );
  return (Date.now() - started) / 1000;
}

async function measure(shards: number, bundle: WorkflowBundleWithSourceMap) {
  const dir = await tempDir(`shards-${shards}`);
  await chmod(dir, 0o711);
  const begin = Date.now();
  const cluster = await startCluster({
    dir: path.join(dir, 'cluster'),
    toolsDir: path.join(PROJECT_ROOT, '.tools'),
    port: 0,
    namespace: 'default',
    retentionDays: 1,
    shards,
    startupTimeoutMs: 300_000,
  });
  const coldStartSeconds = (Date.now() - begin) / 1000;
  try {
    await sleep(10_000);
    const idleBefore = await cpuByPart(cluster);
    await sleep(IDLE_SECONDS * 1000);
    const idle = difference(await cpuByPart(cluster), idleBefore);
    const taskQueue = `shards-${shards}`;
    const connection = await NativeConnection.connect({ address: cluster.address });
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: bundle,
      activities: { step: async (index: number) => index },
      maxConcurrentActivityTaskExecutions: 200,
    });
    const running = worker.run();
    const client = new Client({ connection: await Connection.connect({ address: cluster.address }) });
    const loadBefore = await cpuByPart(cluster);
    const load = await burst(client, taskQueue);
    const loadCpu = difference(await cpuByPart(cluster), loadBefore);
    const rss = Object.fromEntries(
      await Promise.all(cluster.processes.map(async (p) => [p.name, p.pid ? await rssMb(p.pid) : 0] as const)),
    );
    const failoverSeconds = await failover(cluster, client, taskQueue);
    worker.shutdown();
    await running;
    await client.connection.close();
    await connection.close();
    return {
      shards,
      coldStartSeconds,
      idleCpuSeconds: { total: total(idle), ...idle },
      load,
      loadCpuSeconds: { total: total(loadCpu), ...loadCpu },
      rssMb: rss,
      failoverSeconds,
    };
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

it('measures the history shard counts', async () => {
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./measure-workflows') });
  const results = [];
  for (const shards of SHARD_COUNTS) {
    const result = await measure(shards, bundle);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    results.push(result);
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
});
