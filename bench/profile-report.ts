import type { HotSpot, OperationLatency } from './profile';

interface ProfiledBurst {
  result: {
    completed: number;
    jobs: number;
    wallSeconds: number;
    peakAsrConcurrency: number;
    jobOverheadMs: { p50: number; p99: number };
    apiLatencyMs: { post: { p50: number; p99: number }; get: { p50: number; p99: number } };
    processes: Record<string, { cpuShare: number }>;
  };
  /** Absent when `perf` is not installed. */
  devServer: { symbols: HotSpot[]; packages: HotSpot[] } | undefined;
  latencies: OperationLatency[];
  worker: { functions: HotSpot[]; modules: HotSpot[] };
  api: { functions: HotSpot[]; modules: HotSpot[] };
}

function spots(title: string, entries: HotSpot[]): string[] {
  return [
    `| ${title} | % of the process's CPU |`,
    '| --- | --- |',
    ...entries.map((entry) => `| \`${entry.name.replace(/\|/g, '\\|')}\` | ${entry.percent.toFixed(1)} |`),
    '',
  ];
}

/** docs/benchmark/profile.md: where each process of the Temporal side spends the burst. */
export function profileReport(profile: ProfiledBurst): string {
  const { result } = profile;
  const round = (value: number) => Math.round(value).toLocaleString('en');
  // Long polls wait for work by design; their time says nothing about cost.
  const family = (name: string) =>
    profile.latencies.filter((entry) => entry.family === name && !entry.operation.startsWith('Poll'));
  const busy = (name: string) => family(name).reduce((sum, entry) => sum + entry.totalSeconds, 0);
  const cpu = Object.entries(result.processes)
    .map(([name, usage]) => `${name} ${Math.round(usage.cpuShare * 100)}%`)
    .join(' · ');
  const table = (name: string) => [
    '| service | operation | calls | mean ms | total s |',
    '| --- | --- | --- | --- | --- |',
    ...family(name)
      .slice(0, 20)
      .map(
        (entry) =>
          `| ${entry.service} | ${entry.operation} | ${entry.calls} | ${entry.meanMs.toFixed(1)} | ${entry.totalSeconds.toFixed(1)} |`,
      ),
    '',
  ];
  return [
    '# Profile of the Temporal side under the burst',
    '',
    `Produced by \`npm run bench -- --profile\` on ${new Date().toISOString()}: the burst scenario (1002 chunks at once) once, with Linux \`perf\` sampling the dev server at 499 Hz (functions named by \`go tool addr2line\`), V8's CPU profiler in the worker and the API (\`--cpu-prof\`, whole process lifetime), and the dev server's Prometheus metrics read before and after. What it means: [analysis.md](analysis.md).`,
    '',
    `Run: ${result.completed}/${result.jobs} jobs in ${result.wallSeconds.toFixed(0)} s; peak ASR calls ${result.peakAsrConcurrency}; overhead p50 ${round(result.jobOverheadMs.p50)} ms, p99 ${round(result.jobOverheadMs.p99)} ms; POST p50/p99 ${round(result.apiLatencyMs.post.p50)}/${round(result.apiLatencyMs.post.p99)} ms; GET p50/p99 ${round(result.apiLatencyMs.get.p50)}/${round(result.apiLatencyMs.get.p99)} ms. CPU (share of one core): ${cpu}.`,
    '',
    '## Dev server: persistence calls',
    '',
    `Summed over calls: ${busy('persistence_latency').toFixed(1)} s of execution persistence and ${busy('visibility_persistence_latency').toFixed(1)} s of visibility persistence in ${result.wallSeconds.toFixed(0)} s of wall time. A call's latency includes its wait for the database connection, so a sum above the wall time means calls queued for it.`,
    '',
    ...table('persistence_latency'),
    ...table('visibility_persistence_latency'),
    '## Dev server: the gRPC calls it served (long polls left out)',
    '',
    ...table('service_latency'),
    '## Dev server: on-CPU time (perf)',
    '',
    ...(profile.devServer
      ? [...spots('Go package', profile.devServer.packages), ...spots('function', profile.devServer.symbols)]
      : ['`perf` is not installed on this machine (Debian: `apt-get install linux-perf`); skipped.', '']),
    '## Worker (V8 CPU profile, idle excluded)',
    '',
    ...spots('module', profile.worker.modules),
    ...spots('function', profile.worker.functions),
    '## API (V8 CPU profile, idle excluded)',
    '',
    ...spots('module', profile.api.modules),
    ...spots('function', profile.api.functions),
  ].join('\n');
}
