import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/process/free-port';
import { stopChild } from '../src/process/process-lifecycle';
import { startAsrSimulator, type AsrCall, type AsrSimulator } from '../src/asr/asr-simulator';
import { generateEncryptionKey } from '../src/codec/encryption-keys';
import { withTranscriptTag } from '../src/asr/simulated-transcript';
import { userSpace } from '../src/storage/audio-paths';
import { startDevServer, temporalCliPath, type DevServer } from '../src/temporal/dev-server';
import {
  latenciesBetween,
  perfAvailable,
  scrapeLatencies,
  startPerf,
  summarizeCpuProfiles,
  type OperationLatency,
} from './profile';
import { profileReport } from './profile-report';
import { childPids, sampleProcess, type ProcessSample } from './process-usage';
import { arrivalSchedule, summarize, type Summary } from './stats';
import { wavBytes } from './wav-file';
import { histogram, lineChart } from './svg-chart';

/**
 * `npm run bench`: the service at the load the requirements name, on this machine, measured from outside.
 * Starts the embedded dev server, the ASR simulator at the real model's 5-10 s, one worker and one API (each its
 * own process, as in production), then runs open-loop scenarios over real HTTP and writes docs/benchmark/.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const OUT = path.join(ROOT, 'docs', 'benchmark');
const USERS = 200;
const RETRY = { initialMs: 1000, coefficient: 2 };

interface Scenario {
  name: string;
  description: string;
  /** Jobs (their chunk counts) in arrival order, and how many arrive per second. */
  jobs: number[];
  jobsPerSecond: number;
  failureRate: number;
  /** Clients listing their jobs once a second each while the scenario runs. */
  searchClients: number;
  /**
   * Clients that, once a second each, read a finished job and list their completed jobs while the scenario runs:
   * what users do with their transcripts while others' jobs are under way.
   */
  finishedReaders: number;
  /** SIGKILL the worker this long after the first arrival, and start a new one at once. */
  killWorkerAfterMs?: number;
  /** Run on a fleet of this many workers sharing a fleet-wide ASR limit, instead of one worker. */
  fleet?: { workers: number; asrLimit: number };
}

interface JobRecord {
  jobId: string;
  userId: string;
  chunkFiles: string[];
  submittedMs: number;
  status?: string;
  createdMs?: number;
  completedMs?: number;
  transcriptionOk?: boolean;
}

interface ScenarioResult {
  name: string;
  description: string;
  jobs: number;
  chunks: number;
  completed: number;
  failed: number;
  lost: number;
  wrongTranscripts: number;
  asrCalls: number;
  duplicateAsrCalls: number;
  jobOverheadMs: Summary;
  jobOverheadSamplesMs: number[];
  jobDurationMs: Summary;
  apiLatencyMs: { post: Summary; get: Summary; search: Summary; getFinished: Summary; searchFinished: Summary };
  slowestAnswerMs: number;
  /** Answers other than 200/202, by status (e.g. a 503 when an answer would have taken over 13 s). */
  refusals: Record<string, number>;
  peakChunksInFlight: number;
  peakAsrConcurrency: number;
  asrConcurrencyLimit: number;
  processes: Record<string, { cpuSeconds: number; cpuShare: number; peakRssMb: number }>;
  timeline: { t: number; inFlight: number; asr: number }[];
  wallSeconds: number;
}

function scenarios(): Scenario[] {
  // 96k files a day is 1.1 chunks a second: jobs of 6 chunks every 5.4 s on average.
  const steady: Scenario = {
    name: 'steady',
    description: 'the daily average: 96k files/day = 1.1 chunks/s, jobs of 6 chunks, for 90 s',
    jobs: Array.from({ length: 17 }, () => 6),
    jobsPerSecond: 96_000 / 86_400 / 6,
    failureRate: 0,
    searchClients: 0,
    finishedReaders: 0,
  };
  // 1002 chunks at once: 20 jobs of 24 and 87 of 6, interleaved, arriving within about a second.
  const mixed = Array.from({ length: 107 }, (_, index) => (index % 5 === 0 && index / 5 < 20 ? 24 : 6));
  const burst: Scenario = {
    name: 'burst',
    description: '1002 chunks in flight at once: 20 jobs of 24 chunks and 87 of 6, submitted at 100 jobs/s',
    jobs: mixed,
    jobsPerSecond: 100,
    failureRate: 0,
    searchClients: 0,
    finishedReaders: 10,
  };
  const failures: Scenario = {
    ...burst,
    name: 'failures',
    description: 'the same burst with 5% of ASR calls failing transiently (retried: 3 attempts, 1 s then 2 s)',
    failureRate: 0.05,
  };
  const kill: Scenario = {
    ...burst,
    name: 'worker-killed',
    description:
      'the same burst, with the worker SIGKILLed 8 s in (while about half the chunks are at the ASR) and replaced at once',
    killWorkerAfterMs: 8000,
  };
  const search: Scenario = {
    name: 'search-heavy',
    description: '50 jobs of 6 chunks at 5 jobs/s while 50 clients list their jobs every second',
    jobs: Array.from({ length: 50 }, () => 6),
    jobsPerSecond: 5,
    failureRate: 0,
    searchClients: 50,
    finishedReaders: 0,
  };
  const fleetCap: Scenario = {
    ...burst,
    name: 'fleet-cap',
    description:
      'the same burst on two workers that may each make 1000 ASR calls, under a fleet-wide limit of 500 (ASR_MAX_CONCURRENT_CALLS)',
    fleet: { workers: 2, asrLimit: 500 },
  };
  return [steady, burst, failures, kill, search, fleetCap];
}

interface StartOptions {
  /** Worker processes sharing the task queue (default 1). */
  workers?: number;
  profile?: { metricsPort: number; cpuProfileDir: string };
}

function startProcess(
  modulePath: string,
  env: NodeJS.ProcessEnv,
  execArgv: string[] = [],
): Promise<{ child: ChildProcess; ready: Record<string, string> }> {
  const child = fork(modulePath, [], { env, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.on('message', (message: { type?: string } & Record<string, string>) => {
      if (message.type === 'ready') resolve({ child, ready: message });
    });
    child.once('exit', (code) => reject(new Error(`${modulePath} exited before it was ready (${code})`)));
  });
}

class Api {
  readonly samples = {
    post: [] as number[],
    get: [] as number[],
    search: [] as number[],
    getFinished: [] as number[],
    searchFinished: [] as number[],
  };
  /** Jobs seen completed, by any scenario so far: what the finished-job readers read. */
  readonly finished: { jobId: string; userId: string }[] = [];
  slowest = 0;
  /** Answers other than 200/202, by status. */
  refusals: Record<string, number> = {};

  constructor(
    private readonly url: string,
    private readonly keys: Map<string, string>,
  ) {}

  async call(kind: keyof Api['samples'], user: string, route: string, body?: unknown) {
    const started = performance.now();
    const response = await fetch(`${this.url}${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${this.keys.get(user)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    const elapsed = performance.now() - started;
    this.samples[kind].push(elapsed);
    this.slowest = Math.max(this.slowest, elapsed);
    if (response.status >= 300) this.refusals[response.status] = (this.refusals[response.status] ?? 0) + 1;
    return { status: response.status, json };
  }
}

async function runScenario(
  scenario: Scenario,
  context: {
    api: Api;
    simulator: AsrSimulator;
    audioRoot: string;
    pids: Record<string, () => Promise<number[]>>;
    asrLimit: number;
    filePrefix: string;
    restartWorker: () => Promise<void>;
  },
): Promise<ScenarioResult> {
  const { api, simulator } = context;
  simulator.setFailureRate(scenario.failureRate);
  const jobs: JobRecord[] = [];
  for (const [index, chunks] of scenario.jobs.entries()) {
    const chunkFiles = [];
    const userId = `user-${index % USERS}`;
    for (let chunk = 0; chunk < chunks; chunk += 1) {
      const file = `${context.filePrefix}/${scenario.name}/job-${index}/chunk-${chunk}.wav`;
      // Each user's files in their own audio space, as the service resolves them.
      const stored = path.join(context.audioRoot, userSpace(userId), file);
      await mkdir(path.dirname(stored), { recursive: true });
      await writeFile(stored, withTranscriptTag(wavBytes({ seconds: 1 }), `words of ${file}`));
      chunkFiles.push(file);
    }
    jobs.push({ jobId: '', userId, chunkFiles, submittedMs: 0 });
  }
  const callsBefore = simulator.calls().length;
  // CPU per process is counted per pid from its first to its last sample in the scenario, so a worker that is
  // killed and replaced contributes what each of its incarnations used (up to the last 250 ms before a kill).
  const firstCpu = new Map<number, number>();
  const lastCpu = new Map<number, number>();
  const pidsByName = new Map<string, Set<number>>();
  const usage = async () => {
    const out: Record<string, ProcessSample> = {};
    for (const [name, pids] of Object.entries(context.pids)) {
      let rssBytes = 0;
      for (const pid of await pids()) {
        const sample = await sampleProcess(pid);
        if (!sample) continue;
        rssBytes += sample.rssBytes;
        if (!firstCpu.has(pid)) firstCpu.set(pid, sampled ? 0 : sample.cpuSeconds);
        lastCpu.set(pid, sample.cpuSeconds);
        pidsByName.set(name, (pidsByName.get(name) ?? new Set()).add(pid));
      }
      out[name] = { cpuSeconds: 0, rssBytes };
    }
    return out;
  };
  let sampled = false;
  await usage();
  sampled = true;
  const peakRss: Record<string, number> = {};
  const start = Date.now();
  const timeline: ScenarioResult['timeline'] = [];
  let done = false;
  const outstandingChunks = () =>
    jobs
      .filter((job) => job.jobId && (!job.status || job.status === 'in_progress'))
      .reduce((sum, job) => sum + job.chunkFiles.length, 0);
  const sampler = (async () => {
    while (!done) {
      timeline.push({ t: (Date.now() - start) / 1000, inFlight: outstandingChunks(), asr: simulator.inFlight() });
      const now = await usage();
      for (const [name, sample] of Object.entries(now)) peakRss[name] = Math.max(peakRss[name] ?? 0, sample.rssBytes);
      await sleep(250);
    }
  })();
  const searchers = (async () => {
    const until = () => done || jobs.every((job) => job.status && job.status !== 'in_progress');
    await Promise.all(
      Array.from({ length: scenario.searchClients }, async (_, client) => {
        await sleep(client * 20);
        while (!until()) {
          await api.call('search', `user-${client % USERS}`, '/transcript/search?jobStatus=in_progress');
          await sleep(1000);
        }
      }),
    );
  })();

  const readers = (async () => {
    const until = () => done || jobs.every((job) => job.status && job.status !== 'in_progress');
    await Promise.all(
      Array.from({ length: scenario.finishedReaders }, async (_, client) => {
        await sleep(client * 50);
        while (!until()) {
          const pick = api.finished[Math.floor(Math.random() * api.finished.length)];
          if (pick) {
            await api.call('getFinished', pick.userId, `/transcript/${pick.jobId}`);
            await api.call('searchFinished', pick.userId, '/transcript/search?jobStatus=completed&limit=20');
          }
          await sleep(1000);
        }
      }),
    );
  })();

  const killer =
    scenario.killWorkerAfterMs === undefined
      ? Promise.resolve()
      : sleep(scenario.killWorkerAfterMs).then(() => context.restartWorker());
  // Open loop: each job is sent at its scheduled time whatever happened to the ones before.
  const schedule = arrivalSchedule(jobs.length, scenario.jobsPerSecond);
  await Promise.all(
    jobs.map(async (job, index) => {
      await sleep(Math.max(0, start + (schedule[index] as number) - Date.now()));
      job.submittedMs = Date.now();
      const reply = await api.call('post', job.userId, '/transcribe', { audioChunkPaths: job.chunkFiles });
      if (reply.status !== 202) throw new Error(`submit answered ${reply.status}: ${JSON.stringify(reply.json)}`);
      job.jobId = reply.json.jobId as string;
      // Each client polls its job every 2 s until it ends.
      while (!job.status || job.status === 'in_progress') {
        await sleep(2000);
        const got = await api.call('get', job.userId, `/transcript/${job.jobId}`);
        job.status = got.json.jobStatus as string;
        if (job.status !== 'in_progress') {
          job.createdMs = Date.parse(got.json.createdTime as string);
          job.completedMs = Date.parse(got.json.completedTime as string);
          job.transcriptionOk = got.json.transcription === job.chunkFiles.map((file) => `words of ${file}`).join(' ');
          if (job.status === 'completed') api.finished.push({ jobId: job.jobId, userId: job.userId });
        }
      }
    }),
  );
  done = true;
  await Promise.all([sampler, searchers, readers, killer]);
  await usage();
  const wallSeconds = (Date.now() - start) / 1000;

  const calls = simulator.calls().slice(callsBefore);
  const byFile = new Map<string, AsrCall[]>();
  for (const call of calls) byFile.set(call.file, [...(byFile.get(call.file) ?? []), call]);
  const overhead: number[] = [];
  const durations: number[] = [];
  let duplicates = 0;
  for (const job of jobs) {
    if (job.completedMs === undefined || job.createdMs === undefined) continue;
    const duration = job.completedMs - job.createdMs;
    durations.push(duration);
    // The physical limit of a job: its slowest chunk's ASR time, with the backoffs its retry policy prescribes.
    const critical = Math.max(
      ...job.chunkFiles.map((file) => {
        const attempts = byFile.get(file) ?? [];
        duplicates += attempts.filter((call) => call.status === 200).length > 1 ? 1 : 0;
        const backoff = attempts.slice(1).reduce((sum, _, i) => sum + RETRY.initialMs * RETRY.coefficient ** i, 0);
        return attempts.reduce((sum, call) => sum + call.latencyMs, 0) + backoff;
      }),
    );
    overhead.push(duration - critical);
  }
  const processes: ScenarioResult['processes'] = {};
  for (const name of Object.keys(context.pids)) {
    const cpuSeconds = [...(pidsByName.get(name) ?? [])].reduce(
      (sum, pid) => sum + (lastCpu.get(pid) ?? 0) - (firstCpu.get(pid) ?? 0),
      0,
    );
    processes[name] = { cpuSeconds, cpuShare: cpuSeconds / wallSeconds, peakRssMb: (peakRss[name] ?? 0) / 1024 / 1024 };
  }
  return {
    name: scenario.name,
    description: scenario.description,
    jobs: jobs.length,
    chunks: jobs.reduce((sum, job) => sum + job.chunkFiles.length, 0),
    completed: jobs.filter((job) => job.status === 'completed').length,
    failed: jobs.filter((job) => job.status === 'failed').length,
    lost: jobs.filter((job) => !job.status).length,
    wrongTranscripts: jobs.filter((job) => job.status === 'completed' && !job.transcriptionOk).length,
    asrCalls: calls.length,
    duplicateAsrCalls: duplicates,
    jobOverheadMs: summarize(overhead),
    jobOverheadSamplesMs: overhead,
    jobDurationMs: summarize(durations),
    apiLatencyMs: {
      post: summarize(api.samples.post.splice(0)),
      get: summarize(api.samples.get.splice(0)),
      search: summarize(api.samples.search.splice(0)),
      getFinished: summarize(api.samples.getFinished.splice(0)),
      searchFinished: summarize(api.samples.searchFinished.splice(0)),
    },
    slowestAnswerMs: api.slowest,
    refusals: api.refusals,
    peakChunksInFlight: Math.max(0, ...timeline.map((point) => point.inFlight)),
    peakAsrConcurrency: Math.max(0, ...timeline.map((point) => point.asr)),
    asrConcurrencyLimit: context.asrLimit,
    processes,
    timeline,
    wallSeconds,
  };
}

function ms(value: number): string {
  return `${Math.round(value)}`;
}

/** `p50 / p99` of a latency, or a dash where the scenario made no such request. */
function pair(summary: Summary): string {
  return summary.count ? `${ms(summary.p50)} / ${ms(summary.p99)}` : '–';
}

function scenarioTable(results: ScenarioResult[]): string[] {
  return [
    '| scenario | jobs / chunks | completed / failed / lost | chunks re-sent | peak chunks in flight | peak ASR calls / limit | job duration s p50 / p99 | overhead ms p50 / p95 / p99 | POST ms p50 / p99 | GET ms p50 / p99 | search ms p50 / p99 | GET finished ms p50 / p99 | search completed ms p50 / p99 | slowest answer ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.jobs} / ${r.chunks} | ${r.completed} / ${r.failed} / ${r.lost} | ${r.duplicateAsrCalls} | ${r.peakChunksInFlight} | ${r.peakAsrConcurrency} / ${r.asrConcurrencyLimit} | ${(r.jobDurationMs.p50 / 1000).toFixed(1)} / ${(r.jobDurationMs.p99 / 1000).toFixed(1)} | ${ms(r.jobOverheadMs.p50)} / ${ms(r.jobOverheadMs.p95)} / ${ms(r.jobOverheadMs.p99)} | ${ms(r.apiLatencyMs.post.p50)} / ${ms(r.apiLatencyMs.post.p99)} | ${ms(r.apiLatencyMs.get.p50)} / ${ms(r.apiLatencyMs.get.p99)} | ${pair(r.apiLatencyMs.search)} | ${pair(r.apiLatencyMs.getFinished)} | ${pair(r.apiLatencyMs.searchFinished)} | ${ms(r.slowestAnswerMs)} |`,
    ),
    '',
    'CPU (share of one core over the scenario) and peak resident memory, per process:',
    '',
    '| scenario | processes |',
    '| --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${Object.entries(r.processes)
          .map(([name, p]) => `${name} ${(p.cpuShare * 100).toFixed(0)}% / ${p.peakRssMb.toFixed(0)} MB`)
          .join(' · ')} |`,
    ),
  ];
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : '–';
}

function report(
  systems: Record<string, { durability: string; results: ScenarioResult[] }>,
  machine: Record<string, unknown>,
): string {
  const temporal = systems.temporal?.results ?? [];
  const bullmq = systems.bullmq?.results ?? [];
  const cpu = (r: ScenarioResult) => Object.values(r.processes).reduce((sum, p) => sum + p.cpuSeconds, 0);
  const rss = (r: ScenarioResult) => Object.values(r.processes).reduce((sum, p) => sum + p.peakRssMb, 0);
  const ratios = temporal.flatMap((t) => {
    const b = bullmq.find((candidate) => candidate.name === t.name);
    if (!b) return [];
    return [
      `| ${t.name} | ${ratio(t.jobOverheadMs.p50, b.jobOverheadMs.p50)} | ${ratio(t.jobOverheadMs.p99, b.jobOverheadMs.p99)} | ${ratio(t.apiLatencyMs.post.p99, b.apiLatencyMs.post.p99)} | ${ratio(t.apiLatencyMs.get.p99, b.apiLatencyMs.get.p99)} | ${ratio(cpu(t), cpu(b))} | ${ratio(rss(t), rss(b))} |`,
    ];
  });
  return [
    '# Benchmark: the Temporal service at the required load, side by side with BullMQ',
    '',
    `Produced by \`npm run bench\` on ${String(machine.date)}: ${String(machine.cpus)} × ${String(machine.cpuModel)}, ${String(machine.memoryGb)} GiB, Node ${String(machine.node)}. The ASR simulator answers in 5–10 s; each system runs as one worker process (two in fleet-cap) and one API process with the same API keys, request validation and audio checks. Raw figures: [results.json](results.json); what they mean: [analysis.md](analysis.md); where the Temporal side's time goes under the burst: [profile.md](profile.md) (\`npm run bench -- --profile\`).`,
    '',
    "**Job overhead** is a job's completion time (its close time minus its start time, as the API reports them) minus its slowest chunk's ASR time as the simulator chose it (plus, when a call failed, the backoff the retry policy prescribes): everything the system adds on top of the model.",
    '',
    ...Object.entries(systems).flatMap(([name, system]) => [
      `## ${name}`,
      '',
      `Durability: ${system.durability}.`,
      '',
      ...scenarioTable(system.results),
      '',
    ]),
    ...(ratios.length
      ? [
          '## Temporal ÷ BullMQ',
          '',
          'Below 1× Temporal is lower (better), above 1× BullMQ is. CPU and memory are summed over all processes of each system, the load generator included.',
          '',
          '| scenario | overhead p50 | overhead p99 | POST p99 | GET p99 | CPU seconds | peak RSS |',
          '| --- | --- | --- | --- | --- | --- | --- |',
          ...ratios,
          '',
        ]
      : []),
    '## Plots',
    '',
    ...Object.entries(systems).flatMap(([name, system]) =>
      system.results.flatMap((r) => [
        `### ${name}, ${r.name}`,
        '',
        `${r.description}. Answers other than 200/202: ${
          Object.entries(r.refusals)
            .map(([status, count]) => `${count} × ${status}`)
            .join(', ') || 'none'
        }. ${r.asrCalls} ASR calls; chunks transcribed twice after success: ${r.duplicateAsrCalls}; completed jobs with a wrong transcript: ${r.wrongTranscripts}; wall time ${r.wallSeconds.toFixed(0)} s.`,
        '',
        `![chunks in flight](${name}-${r.name}-in-flight.svg) ![job overhead](${name}-${r.name}-overhead.svg)`,
        '',
      ]),
    ),
    ...RUNNING_IT,
  ].join('\n');
}

/** How to reproduce the page, written with it so a regenerated page keeps it. */
const RUNNING_IT = [
  '## Running it',
  '',
  "`npm run bench` (about 11 minutes) runs the same open-loop scenarios over real HTTP against two systems, one after the other: this service (the embedded dev server, one worker and one API process) and the peer a Node team would build instead, under `bench/bullmq/` (BullMQ on a real Redis from Debian's `redis-server` package, which `scripts/install-redis.sh` installs when missing; a parent job per transcription with a child job per chunk, the same retry policy, the same API checks). It rewrites this page, its plots and [results.json](results.json); [analysis.md](analysis.md) is written by hand and says what the numbers mean. `npm run bench -- burst` runs one scenario.",
  '',
  "`npm run bench -- --profile` (about a minute) runs the Temporal side's burst once under profilers and writes [profile.md](profile.md): the dev server's persistence and RPC latencies by operation (from its Prometheus metrics), its on-CPU functions (Linux `perf`, named with `go tool addr2line`; both optional, skipped when missing: `apt-get install linux-perf`), and V8 CPU profiles of the worker and the API.",
  '',
  "`npm run bench:upload` measures an upload's throughput and the API's memory while it streams ([../audio.md](../audio.md#measured-an-uploads-throughput-and-the-apis-memory)).",
  '',
  '`npm run bench:jobs-db` times the jobs database alone, on SQLite and PostgreSQL ([../jobs-database.md](../jobs-database.md#measured)).',
];

interface SystemUnderTest {
  name: string;
  durability: string;
  api: Api;
  /** SIGKILLs the worker and starts a fresh one. */
  restartWorker(): Promise<void>;
  pids: Record<string, () => Promise<number[]>>;
  stop(): Promise<void>;
}

/**
 * A system's worker and API processes, with the worker restartable: what both systems under test share. `store`
 * names the process that keeps their state and how to find its pids.
 */
async function startWorkerAndApi(options: {
  name: string;
  durability: string;
  workerPath: string;
  apiPath: string;
  env: NodeJS.ProcessEnv;
  keys: Map<string, string>;
  store: { name: string; pids: () => Promise<number[]>; stop: () => Promise<void> };
  /** Folder where the worker and the API each write a V8 CPU profile when they exit (`--profile`). */
  cpuProfileDir?: string;
  workers?: number;
}): Promise<SystemUnderTest> {
  const profiled = (name: string) =>
    options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.join(options.cpuProfileDir, name)];
  const startWorker = () => startProcess(options.workerPath, options.env, profiled('worker'));
  const workers: { child: ChildProcess }[] = [];
  for (let index = 0; index < (options.workers ?? 1); index += 1) workers.push(await startWorker());
  const api = await startProcess(options.apiPath, options.env, profiled('api'));
  const pidOf = (...children: ChildProcess[]) =>
    Promise.resolve(children.flatMap((child) => (child.pid ? [child.pid] : [])));
  return {
    name: options.name,
    durability: options.durability,
    api: new Api(api.ready.url as string, options.keys),
    restartWorker: async () => {
      await stopChild((workers[0] as { child: ChildProcess }).child, 'SIGKILL');
      workers[0] = await startWorker();
    },
    pids: {
      [options.store.name]: options.store.pids,
      [workers.length > 1 ? 'workers' : 'worker']: () => pidOf(...workers.map((worker) => worker.child)),
      api: () => pidOf(api.child),
      'load generator + simulator': () => Promise.resolve([process.pid]),
    },
    stop: async () => {
      await Promise.all([...workers, api].map((process) => stopChild(process.child, 'SIGTERM')));
      await options.store.stop();
    },
  };
}

async function startTemporal(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  { workers, profile }: StartOptions = {},
): Promise<SystemUnderTest> {
  const devServer: DevServer = await startDevServer({
    toolsDir: path.join(ROOT, '.tools'),
    dbFilename: path.join(await mkdtemp(path.join(dir, 'temporal-')), 'temporal.sqlite'),
    port: await freePort(),
    namespace: 'default',
    startupTimeoutMs: 120_000,
    metricsPort: profile?.metricsPort,
  });
  return startWorkerAndApi({
    name: 'temporal',
    durability:
      'Temporal dev server on SQLite: journal_mode=WAL, synchronous=NORMAL (a commit is durable against a process crash; the last commits may be lost on power loss)',
    workerPath: path.join(DIST, 'worker', 'main.js'),
    apiPath: path.join(DIST, 'api', 'main.js'),
    env: { ...env, TEMPORAL_ADDRESS: devServer.address },
    keys,
    cpuProfileDir: profile?.cpuProfileDir,
    workers,
    store: {
      name: 'dev server',
      pids: async () => (devServer.pid ? childPids(devServer.pid) : []),
      stop: () => devServer.stop(),
    },
  });
}

async function startBullmq(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  { workers }: StartOptions = {},
): Promise<SystemUnderTest> {
  const port = await freePort();
  const redisDir = await mkdtemp(path.join(dir, 'redis-'));
  const redis = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      redisDir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
    ],
    { stdio: 'ignore' },
  );
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const reachable = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (reachable) break;
    await sleep(100);
  }
  const bullmqDist = path.join(DIST, '..', 'bench', 'bullmq');
  return startWorkerAndApi({
    name: 'bullmq',
    durability:
      'BullMQ on Redis 7 (Debian): appendonly yes, appendfsync everysec (up to a second of writes lost on a crash of the machine)',
    workerPath: path.join(bullmqDist, 'bullmq-worker.js'),
    apiPath: path.join(bullmqDist, 'bullmq-api.js'),
    env: { ...env, REDIS_URL: `redis://127.0.0.1:${port}` },
    keys,
    workers,
    store: {
      name: 'redis',
      pids: () => Promise.resolve(redis.pid ? [redis.pid] : []),
      stop: async () => {
        redis.kill('SIGTERM');
        await sleep(500);
      },
    },
  });
}

async function runScenarios(
  system: SystemUnderTest,
  selected: Scenario[],
  context: { simulator: AsrSimulator; audioRoot: string; asrLimit: number },
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    process.stdout.write(`${system.name} ${scenario.name}: ${scenario.description}\n`);
    system.api.slowest = 0;
    system.api.refusals = {};
    const result = await runScenario(scenario, {
      ...context,
      api: system.api,
      pids: system.pids,
      filePrefix: system.name,
      restartWorker: () => system.restartWorker(),
    });
    results.push(result);
    process.stdout.write(
      `  ${result.completed}/${result.jobs} jobs completed, ${result.lost} lost; peak ${result.peakChunksInFlight} chunks in flight, ${result.peakAsrConcurrency} ASR calls; overhead p50 ${ms(result.jobOverheadMs.p50)} ms p99 ${ms(result.jobOverheadMs.p99)} ms; POST p99 ${ms(result.apiLatencyMs.post.p99)} ms, GET p99 ${ms(result.apiLatencyMs.get.p99)} ms; GET finished p99 ${pair(result.apiLatencyMs.getFinished)} ms, search completed p99 ${pair(result.apiLatencyMs.searchFinished)} ms; slowest answer ${ms(result.slowestAnswerMs)} ms\n`,
    );
    await sleep(3000);
  }
  return results;
}

/**
 * `npm run bench -- --profile`: the Temporal side's burst once more, with perf sampling the dev server, V8
 * profiling the worker and the API, and the dev server's persistence metrics scraped before and after.
 */
async function profileBurst(
  dir: string,
  env: NodeJS.ProcessEnv,
  keys: Map<string, string>,
  context: { simulator: AsrSimulator; audioRoot: string; asrLimit: number },
): Promise<void> {
  const burst = scenarios().filter((scenario) => scenario.name === 'burst');
  const cpuProfileDir = path.join(dir, 'cpu-profiles');
  const metricsPort = await freePort();
  const system = await startTemporal(dir, env, keys, { profile: { metricsPort, cpuProfileDir } });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  let result: ScenarioResult | undefined;
  let devServer: Awaited<ReturnType<ReturnType<typeof startPerf>['stop']>> | undefined;
  let latencies: OperationLatency[] = [];
  try {
    const [devServerPid] = (await system.pids['dev server']?.()) ?? [];
    const binary = temporalCliPath(path.join(ROOT, '.tools'));
    const perf =
      perfAvailable() && devServerPid ? startPerf(devServerPid, binary, path.join(dir, 'perf.data')) : undefined;
    const before = await scrapeLatencies(metricsUrl);
    [result] = await runScenarios(system, burst, context);
    latencies = latenciesBetween(before, await scrapeLatencies(metricsUrl));
    devServer = await perf?.stop();
  } finally {
    await system.stop();
  }
  const report = profileReport({
    result: result as ScenarioResult,
    devServer,
    latencies,
    worker: await summarizeCpuProfiles(path.join(cpuProfileDir, 'worker')),
    api: await summarizeCpuProfiles(path.join(cpuProfileDir, 'api')),
  });
  await mkdir(OUT, { recursive: true });
  await writeFile(path.join(OUT, 'profile.md'), `${report}\n`);
  process.stdout.write(`report: ${path.relative(ROOT, path.join(OUT, 'profile.md'))}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profiling = args.includes('--profile');
  const only = args.filter((arg) => arg !== '--profile');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'transcription-bench-'));
  const audioRoot = path.join(dir, 'audio');
  await mkdir(audioRoot, { recursive: true });
  const simulator = await startAsrSimulator({
    port: 0,
    latency: { minMs: 5000, maxMs: 10_000 },
    failureRate: 0,
    recordCalls: true,
  });
  const users = Array.from({ length: USERS }, (_, index) => `user-${index}`);
  const keys = new Map(users.map((user) => [user, `bench_${user}_${randomBytes(12).toString('hex')}`]));
  const asrLimit = 1000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dir,
    AUDIO_ROOT: audioRoot,
    ASR_URL: simulator.url,
    API_KEYS: users.map((user) => `${keys.get(user)}:${user}:user`).join(','),
    PAYLOAD_ENCRYPTION_KEYS: generateEncryptionKey('bench'),
    PORT: '0',
    LOG_LEVEL: 'warn',
    WORKER_MAX_CONCURRENT_ACTIVITIES: String(asrLimit),
    RATE_LIMIT_PER_SECOND: '100',
    RATE_LIMIT_BURST: '200',
  };
  const context = { simulator, audioRoot, asrLimit };
  const systems: Record<string, { durability: string; results: ScenarioResult[] }> = {};
  try {
    if (profiling) {
      await profileBurst(dir, env, keys, context);
      return;
    }
    const selected = scenarios().filter((scenario) => only.length === 0 || only.includes(scenario.name));
    // Scenarios on one worker share a system; each fleet scenario gets a fresh one of its own shape.
    const runs = [
      { scenarios: selected.filter((scenario) => !scenario.fleet), workers: 1, asrLimit },
      ...selected.flatMap((scenario) =>
        scenario.fleet
          ? [{ scenarios: [scenario], workers: scenario.fleet.workers, asrLimit: scenario.fleet.asrLimit }]
          : [],
      ),
    ].filter((run) => run.scenarios.length > 0);
    for (const start of [startTemporal, startBullmq]) {
      for (const run of runs) {
        const runEnv = { ...env, ASR_MAX_CONCURRENT_CALLS: String(run.asrLimit) };
        const system = await start(dir, runEnv, keys, { workers: run.workers });
        try {
          const results = await runScenarios(system, run.scenarios, { ...context, asrLimit: run.asrLimit });
          systems[system.name] ??= { durability: system.durability, results: [] };
          systems[system.name]?.results.push(...results);
        } finally {
          await system.stop();
        }
      }
    }
  } finally {
    await simulator.close();
    if (profiling) await rm(dir, { recursive: true, force: true });
  }

  await mkdir(OUT, { recursive: true });
  const machine = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
  };
  await writeFile(path.join(OUT, 'results.json'), `${JSON.stringify({ machine, systems }, null, 2)}\n`);
  for (const [name, system] of Object.entries(systems)) {
    for (const result of system.results) {
      await writeFile(
        path.join(OUT, `${name}-${result.name}-in-flight.svg`),
        lineChart({
          title: `${name}, ${result.name}: chunks in flight`,
          xLabel: 'seconds',
          yLabel: 'chunks',
          series: [
            { name: 'submitted, not finished', points: result.timeline.map((p) => [p.t, p.inFlight]) },
            { name: 'ASR calls under way', points: result.timeline.map((p) => [p.t, p.asr]) },
          ],
        }),
      );
      await writeFile(
        path.join(OUT, `${name}-${result.name}-overhead.svg`),
        histogram({
          title: `${name}, ${result.name}: job overhead (ms)`,
          xLabel: 'ms',
          values: result.jobOverheadSamplesMs,
        }),
      );
    }
  }
  await writeFile(path.join(OUT, 'README.md'), `${report(systems, machine)}\n`);
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`report: ${path.relative(ROOT, path.join(OUT, 'README.md'))}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
