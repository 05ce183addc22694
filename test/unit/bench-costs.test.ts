import { BenchArgsError, parseBenchArgs } from '../../bench/bench-args';
import {
  comparisonTable,
  per1000Chunks,
  processTable,
  serverWorkPerChunk,
  type PartCost,
  type ScenarioResult,
  type SystemResults,
} from '../../bench/report';
import { sampleTree } from '../../bench/process-usage';
import { summarize } from '../../bench/stats';
import { UsageMeter, type Meter } from '../../bench/usage-meter';

const known = { systems: ['temporal', 'bullmq', 'cluster'], scenarios: ['steady', 'burst', 'fleet-cap'] };

function part(cpuSeconds: number, peakRssMb: number, peakProcesses = 1): PartCost {
  return { cpuSeconds, cpuShare: 0, peakRssMb, peakProcesses };
}

function result(
  overrides: Partial<ScenarioResult> & Pick<ScenarioResult, 'name' | 'chunks' | 'processes'>,
): ScenarioResult {
  const none = summarize([]);
  return {
    description: '',
    jobs: 1,
    completed: 1,
    failed: 0,
    lost: 0,
    wrongTranscripts: 0,
    asrCalls: overrides.chunks,
    duplicateAsrCalls: 0,
    jobOverheadMs: summarize([100]),
    jobOverheadSamplesMs: [100],
    jobDurationMs: summarize([1000]),
    apiLatencyMs: { post: summarize([10]), get: summarize([5]), search: none, getFinished: none, searchFinished: none },
    slowestAnswerMs: 10,
    refusals: {},
    peakChunksInFlight: overrides.chunks,
    peakAsrConcurrency: overrides.chunks,
    asrConcurrencyLimit: 1000,
    loadGenerator: part(1, 100),
    timeline: [],
    wallSeconds: 10,
    ...overrides,
  };
}

function meter(key: string, cpuSeconds: number, memoryMb: number, processes = 1): Meter {
  return { key, pid: 1, cpuSeconds, memoryBytes: memoryMb * 1024 * 1024, processes };
}

describe('benchmark arguments', () => {
  it('when nothing is given, then every system and every scenario run', () => {
    expect(parseBenchArgs([], known)).toEqual({
      profile: false,
      systems: ['temporal', 'bullmq', 'cluster'],
      scenarios: [],
      out: undefined,
    });
  });

  it('when systems, scenarios and a folder are named, then only those run, in the order given', () => {
    expect(parseBenchArgs(['--systems', 'cluster,temporal', 'burst', '--out=/tmp/x'], known)).toEqual({
      profile: false,
      systems: ['cluster', 'temporal'],
      scenarios: ['burst'],
      out: '/tmp/x',
    });
    expect(parseBenchArgs(['--systems=bullmq', '--profile'], known)).toMatchObject({
      systems: ['bullmq'],
      profile: true,
    });
  });

  it('when a system, scenario or option is unknown, then the run is refused naming the known ones', () => {
    expect(() => parseBenchArgs(['--systems', 'temporal,kafka'], known)).toThrow(
      new BenchArgsError('unknown system kafka (known: temporal, bullmq, cluster)'),
    );
    expect(() => parseBenchArgs(['burts'], known)).toThrow(
      /unknown scenario burts \(known: steady, burst, fleet-cap\)/,
    );
    expect(() => parseBenchArgs(['--system', 'cluster'], known)).toThrow(/unknown option --system/);
    expect(() => parseBenchArgs(['--systems'], known)).toThrow(/--systems needs a value/);
  });
});

describe('CPU and memory per process', () => {
  it('when a process is replaced mid-scenario, then both incarnations count and the new one from zero', () => {
    const usage = new UsageMeter({});
    usage.add('worker', [meter('pid:1', 10, 200)]);
    usage.endRound();
    usage.add('worker', [meter('pid:1', 14, 300)]);
    usage.endRound();
    usage.add('worker', [meter('pid:2', 3, 150)]);
    usage.endRound();
    expect(usage.usage().worker).toEqual({ cpuSeconds: 7, peakMemoryMb: 300, peakProcesses: 1 });
  });

  it("when a part is a process tree, then its memory and process count are the tree's", () => {
    const usage = new UsageMeter({});
    usage.add('postgresql', [meter('tree:9', 50, 120, 8)]);
    usage.endRound();
    usage.add('postgresql', [meter('tree:9', 62.5, 180, 31)]);
    expect(usage.usage().postgresql).toEqual({ cpuSeconds: 12.5, peakMemoryMb: 180, peakProcesses: 31 });
  });

  it("when the server's counters are read, then per chunk is what the scenario added above the at-rest rate", () => {
    const burst = result({
      name: 'burst',
      chunks: 1000,
      processes: {},
      serverWork: {
        historyEvents: 12_000,
        counters: { 'PostgreSQL transactions, temporal': { delta: 9000, windowSeconds: 40 } },
      },
    });
    const atRest = { seconds: 20, processes: {}, counters: { 'PostgreSQL transactions, temporal': 50 } };
    expect(serverWorkPerChunk(burst, atRest)).toEqual({
      'history events': 12,
      'PostgreSQL transactions, temporal': 7,
    });
    expect(serverWorkPerChunk(result({ name: 'burst', chunks: 1000, processes: {} }), atRest)).toEqual({});
  });

  it('when a system ran, then its table has a row per process, the total without the load generator, and the load generator apart', () => {
    const cluster: SystemResults = {
      durability: '',
      skipped: {},
      atRest: {
        seconds: 20,
        processes: { 'temporal history-1': { cpuPerSecond: 0.05, peakRssMb: 240 } },
        counters: {},
      },
      results: [
        result({
          name: 'burst',
          chunks: 500,
          processes: { 'temporal history-1': part(10, 250), postgresql: part(5, 90, 31) },
          loadGenerator: part(2, 300),
        }),
      ],
    };
    expect(processTable(cluster)).toEqual([
      '| process | at rest: CPU per second · memory | burst (500 chunks) |',
      '| --- | --- | --- |',
      '| temporal history-1 | 50 ms/s · 240 MB | 20.0 s · 250 MB |',
      '| postgresql | – | 10.0 s · 90 MB (31 processes) |',
      '| **the system** | 50 ms/s | **30.0 s · 340 MB** |',
      '| load generator + ASR simulator (not in the total) | – | 4.0 s · 300 MB |',
    ]);
    expect(per1000Chunks(3, 0)).toBe(0);
  });

  it("when systems are compared, then each non-BullMQ figure carries its ratio to BullMQ's", () => {
    const system = (cpuSeconds: number, memory: number): SystemResults => ({
      durability: '',
      skipped: {},
      results: [result({ name: 'burst', chunks: 1000, processes: { store: part(cpuSeconds, memory) } })],
    });
    const rows = comparisonTable({ bullmq: system(6, 500), cluster: system(30, 1500) });
    expect(rows.slice(2)).toEqual([
      '| burst | bullmq | 100 | 100 | 10 | 5 | 6.0 | 500 |',
      '| burst | cluster | 100 (1.0×) | 100 (1.0×) | 10 (1.0×) | 5 (1.0×) | 30.0 (5.0×) | 1500 (3.0×) |',
    ]);
  });
});

describe('reading a process tree from /proc', () => {
  it('when a tree is sampled, then it counts its processes, CPU and proportional memory', async () => {
    const tree = await sampleTree(process.pid, { memory: true });
    expect(tree?.processes).toBeGreaterThanOrEqual(1);
    expect(tree?.cpuSeconds).toBeGreaterThan(0);
    expect(tree?.pssBytes).toBeGreaterThan(0);
    expect((await sampleTree(process.pid, { memory: false }))?.pssBytes).toBeUndefined();
    expect(await sampleTree(2 ** 22 + 1, { memory: true })).toBeUndefined();
  });
});
