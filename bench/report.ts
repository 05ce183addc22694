import type { Summary } from './stats';

/** What one named part of a system (a process, or PostgreSQL's process tree) used during a scenario. */
export interface PartCost {
  cpuSeconds: number;
  /** Of one core, over the scenario's wall time. */
  cpuShare: number;
  peakRssMb: number;
  peakProcesses: number;
}

/** A counter of the server's work over a scenario: its growth, and the time between the two reads. */
export interface CounterGrowth {
  delta: number;
  windowSeconds: number;
}

export interface ScenarioResult {
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
  /** The system's processes; the load generator is apart. */
  processes: Record<string, PartCost>;
  /** This benchmark's own process, with the ASR simulator in it: not part of any system's total. */
  loadGenerator: PartCost;
  /** What the Temporal server did for the scenario's jobs; absent for BullMQ. */
  serverWork?: { historyEvents: number; counters: Record<string, CounterGrowth> };
  timeline: { t: number; inFlight: number; asr: number }[];
  wallSeconds: number;
}

/** A system measured with no load, right after its start: what it costs to keep it running. */
export interface AtRest {
  seconds: number;
  processes: Record<string, { cpuPerSecond: number; peakRssMb: number }>;
  /** The server's counters per second. */
  counters: Record<string, number>;
}

export interface SystemResults {
  durability: string;
  atRest?: AtRest;
  /** Scenarios this system was not run in, and why. */
  skipped: Record<string, string>;
  results: ScenarioResult[];
}

function ms(value: number): string {
  return `${Math.round(value)}`;
}

/** `p50 / p99` of a latency, or a dash where the scenario made no such request. */
function pair(summary: Summary): string {
  return summary.count ? `${ms(summary.p50)} / ${ms(summary.p99)}` : '–';
}

/** CPU seconds per 1000 chunks. */
export function per1000Chunks(cpuSeconds: number, chunks: number): number {
  return chunks > 0 ? (cpuSeconds / chunks) * 1000 : 0;
}

/** CPU seconds and peak memory of all the system's processes together (the sum of each one's peak). */
export function systemTotal(result: ScenarioResult): { cpuSeconds: number; peakRssMb: number } {
  const parts = Object.values(result.processes);
  return {
    cpuSeconds: parts.reduce((sum, part) => sum + part.cpuSeconds, 0),
    peakRssMb: parts.reduce((sum, part) => sum + part.peakRssMb, 0),
  };
}

/**
 * Each counter of the server's work per chunk, above what the server does at rest: the at-rest rate times the
 * scenario's window is taken off first (a cluster's shards poll their queues whether there is work or not).
 */
export function serverWorkPerChunk(result: ScenarioResult, atRest: AtRest | undefined): Record<string, number> {
  if (!result.serverWork || result.chunks === 0) return {};
  const out: Record<string, number> = { 'history events': result.serverWork.historyEvents / result.chunks };
  for (const [name, { delta, windowSeconds }] of Object.entries(result.serverWork.counters)) {
    out[name] = Math.max(0, delta - (atRest?.counters[name] ?? 0) * windowSeconds) / result.chunks;
  }
  return out;
}

function scenarioTable(results: ScenarioResult[]): string[] {
  return [
    '| scenario | jobs / chunks | completed / failed / lost | chunks re-sent | peak chunks in flight | peak ASR calls / limit | job duration s p50 / p99 | overhead ms p50 / p95 / p99 | POST ms p50 / p99 | GET ms p50 / p99 | search ms p50 / p99 | GET finished ms p50 / p99 | search completed ms p50 / p99 | slowest answer ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.jobs} / ${r.chunks} | ${r.completed} / ${r.failed} / ${r.lost} | ${r.duplicateAsrCalls} | ${r.peakChunksInFlight} | ${r.peakAsrConcurrency} / ${r.asrConcurrencyLimit} | ${(r.jobDurationMs.p50 / 1000).toFixed(1)} / ${(r.jobDurationMs.p99 / 1000).toFixed(1)} | ${ms(r.jobOverheadMs.p50)} / ${ms(r.jobOverheadMs.p95)} / ${ms(r.jobOverheadMs.p99)} | ${ms(r.apiLatencyMs.post.p50)} / ${ms(r.apiLatencyMs.post.p99)} | ${ms(r.apiLatencyMs.get.p50)} / ${ms(r.apiLatencyMs.get.p99)} | ${pair(r.apiLatencyMs.search)} | ${pair(r.apiLatencyMs.getFinished)} | ${pair(r.apiLatencyMs.searchFinished)} | ${ms(r.slowestAnswerMs)} |`,
    ),
  ];
}

function costCell(cost: { cpuSeconds: number; peakRssMb: number; peakProcesses?: number }, chunks: number): string {
  const processes = (cost.peakProcesses ?? 1) > 1 ? ` (${cost.peakProcesses} processes)` : '';
  return `${per1000Chunks(cost.cpuSeconds, chunks).toFixed(1)} s · ${cost.peakRssMb.toFixed(0)} MB${processes}`;
}

/**
 * One row per process of the system, one column per scenario: CPU seconds per 1000 chunks and peak memory; then
 * the system's total, and the load generator apart. The first column is the system at rest.
 */
export function processTable(system: SystemResults): string[] {
  const names = [...new Set(system.results.flatMap((r) => Object.keys(r.processes)))];
  const rest = (name: string) => {
    const part = system.atRest?.processes[name];
    return part ? `${(part.cpuPerSecond * 1000).toFixed(0)} ms/s · ${part.peakRssMb.toFixed(0)} MB` : '–';
  };
  const restTotal = system.atRest
    ? `${(Object.values(system.atRest.processes).reduce((sum, part) => sum + part.cpuPerSecond, 0) * 1000).toFixed(0)} ms/s`
    : '–';
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    row([
      'process',
      'at rest: CPU per second · memory',
      ...system.results.map((r) => `${r.name} (${r.chunks} chunks)`),
    ]),
    row(['---', '---', ...system.results.map(() => '---')]),
    ...names.map((name) =>
      row([
        name,
        rest(name),
        ...system.results.map((r) => {
          const part = r.processes[name];
          return part ? costCell(part, r.chunks) : '–';
        }),
      ]),
    ),
    row(['**the system**', restTotal, ...system.results.map((r) => `**${costCell(systemTotal(r), r.chunks)}**`)]),
    row([
      'load generator + ASR simulator (not in the total)',
      '–',
      ...system.results.map((r) => costCell(r.loadGenerator, r.chunks)),
    ]),
  ];
}

/** The server's work per chunk in each scenario, above its at-rest rate; none for a system that counts none. */
export function serverWorkTable(system: SystemResults): string[] {
  const perChunk = system.results.map((r) => ({ name: r.name, figures: serverWorkPerChunk(r, system.atRest) }));
  const columns = [...new Set(perChunk.flatMap((r) => Object.keys(r.figures)))];
  if (columns.length === 0) return [];
  return [
    `| scenario | ${columns.map((column) => `${column} / chunk`).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
    ...perChunk.map(
      (r) => `| ${r.name} | ${columns.map((column) => r.figures[column]?.toFixed(1) ?? '–').join(' | ')} |`,
    ),
  ];
}

function ratio(value: number, base: number | undefined): string {
  return base !== undefined && base > 0 ? ` (${(value / base).toFixed(1)}×)` : '';
}

/**
 * Every system in every scenario it ran: latencies, CPU per 1000 chunks and memory of the whole system, each with
 * how many times BullMQ's figure it is.
 */
export function comparisonTable(systems: Record<string, SystemResults>): string[] {
  const baseline = systems.bullmq?.results ?? [];
  const scenarioNames = [...new Set(Object.values(systems).flatMap((system) => system.results.map((r) => r.name)))];
  const rows = scenarioNames.flatMap((scenario) =>
    Object.entries(systems).flatMap(([name, system]) => {
      const r = system.results.find((each) => each.name === scenario);
      if (!r) return [];
      const b = name === 'bullmq' ? undefined : baseline.find((each) => each.name === scenario);
      const total = systemTotal(r);
      const cpu = per1000Chunks(total.cpuSeconds, r.chunks);
      const cells = [
        `${ms(r.jobOverheadMs.p50)}${ratio(r.jobOverheadMs.p50, b?.jobOverheadMs.p50)}`,
        `${ms(r.jobOverheadMs.p99)}${ratio(r.jobOverheadMs.p99, b?.jobOverheadMs.p99)}`,
        `${ms(r.apiLatencyMs.post.p99)}${ratio(r.apiLatencyMs.post.p99, b?.apiLatencyMs.post.p99)}`,
        `${ms(r.apiLatencyMs.get.p99)}${ratio(r.apiLatencyMs.get.p99, b?.apiLatencyMs.get.p99)}`,
        `${cpu.toFixed(1)}${ratio(cpu, b && per1000Chunks(systemTotal(b).cpuSeconds, b.chunks))}`,
        `${total.peakRssMb.toFixed(0)}${ratio(total.peakRssMb, b && systemTotal(b).peakRssMb)}`,
      ];
      return [`| ${scenario} | ${name} | ${cells.join(' | ')} |`];
    }),
  );
  return [
    '| scenario | system | overhead ms p50 | overhead ms p99 | POST ms p99 | GET ms p99 | CPU s / 1000 chunks | peak memory MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
}

/** The page `npm run bench` writes: docs/benchmark/README.md. */
export function report(systems: Record<string, SystemResults>, machine: Record<string, unknown>): string {
  const compared = Object.keys(systems).length > 1;
  return [
    '# Benchmark: the Temporal service at the required load, on the dev server and on a cluster, beside BullMQ',
    '',
    `Produced by \`npm run bench\` on ${String(machine.date)}: ${String(machine.cpus)} × ${String(machine.cpuModel)}, ${String(machine.memoryGb)} GiB, Node ${String(machine.node)}. The ASR simulator answers in 5–10 s; each system runs as one worker process (two in fleet-cap) and one API process with the same API keys, request validation and audio checks. Raw figures: [results.json](results.json); what they mean: [analysis.md](analysis.md); where the Temporal side's time goes under the burst: [profile.md](profile.md) (\`npm run bench -- --profile\`).`,
    '',
    "**Job overhead** is a job's completion time (its close time minus its start time, as the API reports them) minus its slowest chunk's ASR time as the simulator chose it (plus, when a call failed, the backoff the retry policy prescribes): everything the system adds on top of the model.",
    '',
    "**Cost per process** is each process's CPU seconds per 1000 chunks (its CPU time over the scenario, divided by the chunks, times 1000) and its peak memory (resident set; for PostgreSQL the proportional set size summed over its processes, so shared buffers count once). It includes what the process spends at rest over the scenario's wall time, which dominates the long, light `steady` scenario: the \"at rest\" column, measured for 20 s with no load once each system's scenarios are over, is that rate. The load generator (this benchmark's process, with the ASR simulator) is shown apart and is in no total.",
    '',
    ...Object.entries(systems).flatMap(([name, system]) => [
      `## ${name}`,
      '',
      `Durability: ${system.durability}.`,
      '',
      ...Object.entries(system.skipped).map(([scenario, why]) => `Not run here: ${scenario}, because ${why}.\n`),
      ...scenarioTable(system.results),
      '',
      `### ${name}: cost per process (CPU seconds per 1000 chunks · peak memory)`,
      '',
      ...processTable(system),
      '',
      ...(serverWorkTable(system).length
        ? [
            `### ${name}: the server's work per chunk`,
            '',
            "Above the server's at-rest rate. History events are read from each job's execution (its history length). " +
              (name === 'cluster'
                ? "The cluster's processes serve no metrics (`startCluster()` gives them no `PROMETHEUS_ENDPOINT`), so its persistence is counted where it lands: PostgreSQL's transactions (commits and rollbacks; a statement outside a transaction is one) in Temporal's two databases, and the rows written (inserted, updated, deleted)."
                : "Persistence requests are the dev server's own count (`persistence_latency` and `visibility_persistence_latency` in its Prometheus metrics)."),
            '',
            ...serverWorkTable(system),
            '',
          ]
        : []),
    ]),
    ...(compared
      ? [
          '## Side by side',
          '',
          "Each system's figures, with how many times BullMQ's figure it is in brackets (below 1× is lower, which is better). CPU per 1000 chunks and memory are of the whole system, the load generator excluded.",
          '',
          ...comparisonTable(systems),
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
  "`npm run bench` (about 20 minutes) runs the same open-loop scenarios over real HTTP against three systems, one after the other: this service on the embedded dev server (`temporal`: one worker and one API process); BullMQ (`bullmq`), the peer a Node team would build instead, under `bench/bullmq/` (on a real Redis from Debian's `redis-server` package, which `scripts/install-redis.sh` installs when missing; a parent job per transcription with a child job per chunk, the same retry policy, the same API checks); and this service again on the production topology (`cluster`): `npm run cluster`'s Temporal cluster, each service a process of its own on PostgreSQL ([../cluster.md](../cluster.md)), started by the benchmark in a folder and on ports of its own. It rewrites this page, its plots and [results.json](results.json); [analysis.md](analysis.md) is written by hand and says what the numbers mean.",
  '',
  '`npm run bench -- --systems temporal,cluster burst` runs only the systems named and the scenarios given (any of them; all when none); `--out DIR` writes the page, plots and results.json to another folder instead of this one, for a partial run that should not replace this page.',
  '',
  "`npm run bench -- --profile` (about a minute) runs the Temporal side's burst once under profilers and writes [profile.md](profile.md): the dev server's persistence and RPC latencies by operation (from its Prometheus metrics), its on-CPU functions (Linux `perf`, named with `go tool addr2line`; both optional, skipped when missing: `apt-get install linux-perf`), and V8 CPU profiles of the worker and the API.",
  '',
  'Every run appends its headline figures (per system and scenario: overhead, POST, GET and search p99 with their 95% ranges, CPU per 1000 chunks per process, peak memory, history events per chunk, jobs lost and chunks transcribed twice), with the git revision and the machine, to [history.jsonl](history.jsonl), kept in the repo (`--history FILE` writes elsewhere). `npm run bench:compare` prints the latest run against the one before it on the same machine kind, figure by figure, saying whether each moved beyond its noise: latencies by their ranges, CPU by the spread between runs of one revision when the history has any.',
  '',
  "`npm run bench:upload` measures an upload's throughput and the API's memory while it streams ([../audio.md](../audio.md#measured-an-uploads-throughput-and-the-apis-memory)).",
  '',
  '`npm run bench:jobs-db` times the jobs database alone, on SQLite and PostgreSQL ([../jobs-database.md](../jobs-database.md#measured)).',
];
