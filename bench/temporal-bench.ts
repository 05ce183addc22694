import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/process/free-port';
import { startAsrSimulator, type AsrCall, type AsrSimulator } from '../src/asr/asr-simulator';
import { generateEncryptionKey } from '../src/codec/encryption-keys';
import { withTranscriptTag } from '../src/asr/simulated-transcript';
import { userSpace } from '../src/storage/audio-paths';
import { temporalCliPath } from '../src/temporal/dev-server';
import type { Api } from './bench-api';
import { BenchArgsError, parseBenchArgs } from './bench-args';
import { appendHistory, historyEntry } from './bench-history';
import {
  latenciesBetween,
  perfAvailable,
  scrapeLatencies,
  startPerf,
  summarizeCpuProfiles,
  type OperationLatency,
} from './profile';
import { profileReport } from './profile-report';
import {
  per1000Chunks,
  report,
  systemTotal,
  type AtRest,
  type CounterGrowth,
  type PartCost,
  type ScenarioResult,
  type SystemResults,
} from './report';
import type { ServerWorkProbe } from './server-work';
import { arrivalSchedule, summarize, type Summary } from './stats';
import { histogram, lineChart } from './svg-chart';
import { SYSTEMS, type SystemUnderTest } from './systems';
import { pidMeters, UsageMeter, type MeterSource, type PartUsage } from './usage-meter';
import { wavBytes } from './wav-file';

/**
 * `npm run bench`: the service at the load the requirements name, on this machine, measured from outside.
 * Starts the ASR simulator at the real model's 5-10 s, then each system in turn (the service on the embedded dev
 * server, BullMQ on Redis, the service on a multi-process Temporal cluster; bench/systems.ts), each with one worker
 * and one API process as in production, runs open-loop scenarios over real HTTP and writes docs/benchmark/.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'docs', 'benchmark');
/** Every run's headline figures, one line each, kept in the repo so a regression shows in review. */
const HISTORY = path.join(OUT, 'history.jsonl');
/**
 * How long a system is watched with no load once its scenarios are over, after a pause for the last work to drain:
 * then rather than right after its start, when a cluster is still taking its shards and loading their queues.
 */
const AT_REST = { settleMs: 10_000, measureMs: 20_000, sampleMs: 1000 };
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

const LOAD_GENERATOR = 'load generator';
/** This process: the load generator and the ASR simulator, measured apart from every system. */
const loadGenerator: MeterSource = () => pidMeters([process.pid]);

/**
 * How much each of the server's counters grew since `before` (read at `beforeMs`), read once the server has
 * published all of the load (PostgreSQL's statistics come up to 10 s late).
 */
async function countersSince(
  probe: ServerWorkProbe,
  before: Record<string, number>,
  beforeMs: number,
): Promise<Record<string, CounterGrowth>> {
  await sleep(probe.settleMs);
  const after = await probe.counters();
  const windowSeconds = (Date.now() - beforeMs) / 1000;
  return Object.fromEntries(
    Object.entries(after).map(([name, value]) => [name, { delta: value - (before[name] ?? 0), windowSeconds }]),
  );
}

/**
 * A system with no load, after its scenarios: CPU per second and memory of each of its processes, and its server's
 * counters per second, which the per-chunk figures of its scenarios are taken above.
 */
async function measureAtRest(system: SystemUnderTest): Promise<AtRest> {
  await sleep(AT_REST.settleMs);
  const meter = new UsageMeter(system.parts);
  const before = await system.serverWork?.counters();
  const started = Date.now();
  await meter.sample();
  while (Date.now() - started < AT_REST.measureMs) {
    await sleep(AT_REST.sampleMs);
    await meter.sample();
  }
  const counters = system.serverWork ? await countersSince(system.serverWork, before ?? {}, started) : {};
  const seconds = (Date.now() - started) / 1000;
  return {
    seconds,
    processes: Object.fromEntries(
      Object.entries(meter.usage()).map(([name, usage]) => [
        name,
        { cpuPerSecond: usage.cpuSeconds / seconds, peakRssMb: usage.peakMemoryMb },
      ]),
    ),
    counters: Object.fromEntries(
      Object.entries(counters).map(([name, { delta, windowSeconds }]) => [name, delta / windowSeconds]),
    ),
  };
}

async function runScenario(
  scenario: Scenario,
  context: {
    api: Api;
    simulator: AsrSimulator;
    audioRoot: string;
    parts: Record<string, MeterSource>;
    serverWork: ServerWorkProbe | undefined;
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
  const meter = new UsageMeter({ ...context.parts, [LOAD_GENERATOR]: loadGenerator });
  const countersBefore = await context.serverWork?.counters();
  const countersReadMs = Date.now();
  await meter.sample();
  const start = Date.now();
  let meterSampledMs = start;
  const timeline: ScenarioResult['timeline'] = [];
  let done = false;
  const outstandingChunks = () =>
    jobs
      .filter((job) => job.jobId && (!job.status || job.status === 'in_progress'))
      .reduce((sum, job) => sum + job.chunkFiles.length, 0);
  const sampler = (async () => {
    while (!done) {
      timeline.push({ t: (Date.now() - start) / 1000, inFlight: outstandingChunks(), asr: simulator.inFlight() });
      // Processes once a second: reading PostgreSQL's 80 processes costs the load generator a few ms each time.
      if (Date.now() - meterSampledMs >= 1000) {
        meterSampledMs = Date.now();
        await meter.sample();
      }
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
  await meter.sample();
  const wallSeconds = (Date.now() - start) / 1000;
  // The counters first: the describes that count history events are reads of their own.
  const counters =
    context.serverWork && (await countersSince(context.serverWork, countersBefore ?? {}, countersReadMs));
  const serverWork = context.serverWork && {
    historyEvents: await context.serverWork.historyEvents(jobs.flatMap((job) => (job.jobId ? [job.jobId] : []))),
    counters: counters ?? {},
  };

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
  const { [LOAD_GENERATOR]: load, ...parts } = meter.usage();
  const cost = (usage: PartUsage | undefined): PartCost => ({
    cpuSeconds: usage?.cpuSeconds ?? 0,
    cpuShare: (usage?.cpuSeconds ?? 0) / wallSeconds,
    peakRssMb: usage?.peakMemoryMb ?? 0,
    peakProcesses: usage?.peakProcesses ?? 0,
  });
  const processes = Object.fromEntries(Object.entries(parts).map(([name, usage]) => [name, cost(usage)]));
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
    loadGenerator: cost(load),
    ...(serverWork ? { serverWork } : {}),
    timeline,
    wallSeconds,
  };
}

/**
 * The commit measured, marked `-dirty` when the tree had changes the commit does not hold; the benchmark's own
 * output (docs/benchmark, this history among it) does not count.
 */
function gitRevision(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown';
  const dirty =
    git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs/benchmark').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
}

function ms(value: number): string {
  return `${Math.round(value)}`;
}

/** `p50 / p99` of a latency, or a dash where the scenario made no such request. */
function pair(summary: Summary): string {
  return summary.count ? `${ms(summary.p50)} / ${ms(summary.p99)}` : '–';
}

/** What each process cost, as the report's per-process table gives it, for the console. */
function costLine(result: ScenarioResult): string {
  const cell = (cost: PartCost) =>
    `${per1000Chunks(cost.cpuSeconds, result.chunks).toFixed(1)} s, ${cost.peakRssMb.toFixed(0)} MB`;
  const total = systemTotal(result);
  return `  CPU per 1000 chunks, peak memory: ${Object.entries(result.processes)
    .map(([name, cost]) => `${name} ${cell(cost)}`)
    .join(
      '; ',
    )}; the system ${cell({ ...total, cpuShare: 0, peakProcesses: 0 })}; load generator ${cell(result.loadGenerator)}\n`;
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
      parts: system.parts,
      serverWork: system.serverWork,
      filePrefix: system.name,
      restartWorker: () => system.restartWorker(),
    });
    results.push(result);
    process.stdout.write(
      `  ${result.completed}/${result.jobs} jobs completed, ${result.lost} lost; peak ${result.peakChunksInFlight} chunks in flight, ${result.peakAsrConcurrency} ASR calls; overhead p50 ${ms(result.jobOverheadMs.p50)} ms p99 ${ms(result.jobOverheadMs.p99)} ms; POST p99 ${ms(result.apiLatencyMs.post.p99)} ms, GET p99 ${ms(result.apiLatencyMs.get.p99)} ms; GET finished p99 ${pair(result.apiLatencyMs.getFinished)} ms, search completed p99 ${pair(result.apiLatencyMs.searchFinished)} ms; slowest answer ${ms(result.slowestAnswerMs)} ms\n`,
    );
    process.stdout.write(costLine(result));
    if (result.serverWork) {
      const { historyEvents, counters } = result.serverWork;
      process.stdout.write(
        `  server: ${historyEvents} history events; ${Object.entries(counters)
          .map(([name, { delta, windowSeconds }]) => `${name} ${delta} over ${windowSeconds.toFixed(0)} s`)
          .join('; ')}\n`,
      );
    }
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
  const temporal = SYSTEMS.find((system) => system.name === 'temporal');
  if (!temporal) throw new Error('no temporal system to profile');
  const system = await temporal.start(dir, env, keys, { profile: { metricsPort, cpuProfileDir } });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  let result: ScenarioResult | undefined;
  let devServer: Awaited<ReturnType<ReturnType<typeof startPerf>['stop']>> | undefined;
  let latencies: OperationLatency[] = [];
  try {
    const [devServerMeter] = (await system.parts['dev server']?.()) ?? [];
    const binary = temporalCliPath(path.join(ROOT, '.tools'));
    const perf =
      perfAvailable() && devServerMeter
        ? startPerf(devServerMeter.pid, binary, path.join(dir, 'perf.data'))
        : undefined;
    const before = await scrapeLatencies(metricsUrl);
    [result] = await runScenarios(system, burst, context);
    latencies = latenciesBetween(before, await scrapeLatencies(metricsUrl));
    devServer = await perf?.stop();
  } finally {
    await system.stop();
  }
  const burstResult = result as ScenarioResult;
  const report = profileReport({
    result: {
      ...burstResult,
      processes: { ...burstResult.processes, 'load generator + simulator': burstResult.loadGenerator },
    },
    devServer,
    latencies,
    worker: await summarizeCpuProfiles(path.join(cpuProfileDir, 'worker')),
    api: await summarizeCpuProfiles(path.join(cpuProfileDir, 'api')),
  });
  await mkdir(OUT, { recursive: true });
  await writeFile(path.join(OUT, 'profile.md'), `${report}\n`);
  process.stdout.write(`report: ${path.relative(ROOT, path.join(OUT, 'profile.md'))}\n`);
}

/** The systems' runs: scenarios on one worker share a system; each fleet scenario gets a fresh one of its shape. */
function plannedRuns(selected: Scenario[], asrLimit: number) {
  return [
    { scenarios: selected.filter((scenario) => !scenario.fleet), workers: 1, asrLimit },
    ...selected.flatMap((scenario) =>
      scenario.fleet
        ? [{ scenarios: [scenario], workers: scenario.fleet.workers, asrLimit: scenario.fleet.asrLimit }]
        : [],
    ),
  ].filter((run) => run.scenarios.length > 0);
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2), {
    systems: SYSTEMS.map((system) => system.name),
    scenarios: scenarios().map((scenario) => scenario.name),
  });
  const out = args.out === undefined ? OUT : path.resolve(args.out);
  // Read before anything runs: the tree may change while the benchmark does.
  const revision = gitRevision();
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
  const systems: Record<string, SystemResults> = {};
  try {
    if (args.profile) {
      await profileBurst(dir, env, keys, context);
      return;
    }
    const selected = scenarios().filter(
      (scenario) => args.scenarios.length === 0 || args.scenarios.includes(scenario.name),
    );
    for (const name of args.systems) {
      const definition = SYSTEMS.find((system) => system.name === name);
      if (!definition) continue;
      const skips = definition.skips ?? {};
      const skipped = Object.fromEntries(
        Object.entries(skips).filter(([scenario]) => selected.some((s) => s.name === scenario)),
      );
      for (const [scenario, why] of Object.entries(skipped))
        process.stdout.write(`${name} ${scenario}: not run, ${why}\n`);
      const runs = plannedRuns(
        selected.filter((scenario) => !(scenario.name in skips)),
        asrLimit,
      );
      for (const [index, run] of runs.entries()) {
        const runEnv = { ...env, ASR_MAX_CONCURRENT_CALLS: String(run.asrLimit) };
        process.stdout.write(`${name}: starting (${run.workers} worker${run.workers > 1 ? 's' : ''})\n`);
        const system = await definition.start(dir, runEnv, keys, { workers: run.workers });
        try {
          const entry = (systems[name] ??= { durability: system.durability, skipped, results: [] });
          entry.results.push(...(await runScenarios(system, run.scenarios, { ...context, asrLimit: run.asrLimit })));
          if (index === 0) {
            entry.atRest = await measureAtRest(system);
            process.stdout.write(
              `  at rest: ${Object.entries(entry.atRest.processes)
                .map(
                  ([part, { cpuPerSecond, peakRssMb }]) =>
                    `${part} ${(cpuPerSecond * 1000).toFixed(0)} ms/s, ${peakRssMb.toFixed(0)} MB`,
                )
                .join('; ')}; ${Object.entries(entry.atRest.counters)
                .map(([counter, perSecond]) => `${counter} ${perSecond.toFixed(1)}/s`)
                .join('; ')}\n`,
            );
          }
        } finally {
          await system.stop();
        }
      }
    }
  } finally {
    await simulator.close();
    if (args.profile) await rm(dir, { recursive: true, force: true });
  }

  await mkdir(out, { recursive: true });
  const machine = {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
  };
  await writeFile(path.join(out, 'results.json'), `${JSON.stringify({ machine, systems }, null, 2)}\n`);
  const history = args.history === undefined ? HISTORY : path.resolve(args.history);
  await appendHistory(history, historyEntry(systems, machine, revision));
  process.stdout.write(`history: ${path.relative(ROOT, history)} (compare: npm run bench:compare)\n`);
  for (const [name, system] of Object.entries(systems)) {
    for (const result of system.results) {
      await writeFile(
        path.join(out, `${name}-${result.name}-in-flight.svg`),
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
        path.join(out, `${name}-${result.name}-overhead.svg`),
        histogram({
          title: `${name}, ${result.name}: job overhead (ms)`,
          xLabel: 'ms',
          values: result.jobOverheadSamplesMs,
        }),
      );
    }
  }
  await writeFile(path.join(out, 'README.md'), `${report(systems, machine)}\n`);
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`report: ${path.relative(ROOT, path.join(out, 'README.md'))}\n`);
}

main().catch((err: unknown) => {
  if (err instanceof BenchArgsError) {
    process.stderr.write(`npm run bench: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
