import { appendFile, readFile } from 'node:fs/promises';
import { per1000Chunks, serverWorkPerChunk, systemTotal, type ScenarioResult, type SystemResults } from './report';
import type { Summary } from './stats';

/** A figure as measured, with the range it lies in at about 95% confidence where one run can tell. */
export interface Figure {
  value: number;
  range?: [number, number];
}

/** The headline figures of one system in one scenario: what a review compares between runs. */
export interface ScenarioFigures {
  chunks: number;
  lost: number;
  transcribedTwice: number;
  overheadP50Ms: Figure;
  overheadP99Ms: Figure;
  postP99Ms: Figure;
  getP99Ms: Figure;
  searchP99Ms?: Figure;
  cpuSecondsPer1000Chunks: number;
  /** Per process, so a change that moves cost from one process to another shows. */
  processCpuSecondsPer1000Chunks: Record<string, number>;
  peakMemoryMb: number;
  historyEventsPerChunk?: number;
}

/** One line of docs/benchmark/history.jsonl: one `npm run bench`, at one revision, on one machine. */
export interface HistoryEntry {
  date: string;
  /** `git describe`-like: the commit, with `-dirty` when the tree had uncommitted changes. */
  revision: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string };
  systems: Record<string, Record<string, ScenarioFigures>>;
}

function figure(summary: Summary, quantile: 'p50' | 'p99'): Figure {
  const range = summary.ranges?.[quantile];
  return range ? { value: summary[quantile], range } : { value: summary[quantile] };
}

export function scenarioFigures(result: ScenarioResult): ScenarioFigures {
  const search = result.apiLatencyMs.search;
  const events = serverWorkPerChunk(result, undefined)['history events'];
  return {
    chunks: result.chunks,
    lost: result.lost,
    transcribedTwice: result.duplicateAsrCalls,
    overheadP50Ms: figure(result.jobOverheadMs, 'p50'),
    overheadP99Ms: figure(result.jobOverheadMs, 'p99'),
    postP99Ms: figure(result.apiLatencyMs.post, 'p99'),
    getP99Ms: figure(result.apiLatencyMs.get, 'p99'),
    ...(search.count > 0 ? { searchP99Ms: figure(search, 'p99') } : {}),
    cpuSecondsPer1000Chunks: round(per1000Chunks(systemTotal(result).cpuSeconds, result.chunks)),
    processCpuSecondsPer1000Chunks: Object.fromEntries(
      Object.entries(result.processes).map(([name, cost]) => [
        name,
        round(per1000Chunks(cost.cpuSeconds, result.chunks)),
      ]),
    ),
    peakMemoryMb: Math.round(systemTotal(result).peakRssMb),
    ...(events === undefined ? {} : { historyEventsPerChunk: round(events) }),
  };
}

export function historyEntry(
  systems: Record<string, SystemResults>,
  machine: HistoryEntry['machine'] & { date: string },
  revision: string,
): HistoryEntry {
  const { date, ...rest } = machine;
  return {
    date,
    revision,
    machine: rest,
    systems: Object.fromEntries(
      Object.entries(systems).map(([name, system]) => [
        name,
        Object.fromEntries(system.results.map((result) => [result.name, scenarioFigures(result)])),
      ]),
    ),
  };
}

export async function appendHistory(file: string, entry: HistoryEntry): Promise<void> {
  await appendFile(file, `${JSON.stringify(entry)}\n`);
}

export async function readHistory(file: string): Promise<HistoryEntry[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HistoryEntry);
}

const sameMachine = (a: HistoryEntry, b: HistoryEntry) =>
  a.machine.cpus === b.machine.cpus && a.machine.cpuModel === b.machine.cpuModel;

/**
 * How far CPU seconds per 1000 chunks moved between runs of one revision on one machine kind, as a fraction: the
 * run-to-run noise of a figure one run cannot put a range on. Undefined while no revision was run twice.
 */
export function repeatNoise(history: readonly HistoryEntry[], system: string, scenario: string): number | undefined {
  const byRevision = new Map<string, number[]>();
  for (const entry of history) {
    const cpu = entry.systems[system]?.[scenario]?.cpuSecondsPer1000Chunks;
    if (cpu === undefined || entry.revision.endsWith('-dirty')) continue;
    const key = `${entry.revision} ${entry.machine.cpus} ${entry.machine.cpuModel}`;
    byRevision.set(key, [...(byRevision.get(key) ?? []), cpu]);
  }
  const spreads = [...byRevision.values()]
    .filter((runs) => runs.length > 1)
    .map((runs) => (Math.max(...runs) - Math.min(...runs)) / Math.min(...runs));
  return spreads.length > 0 ? Math.max(...spreads) : undefined;
}

type Verdict = 'better' | 'worse' | 'within noise' | 'no range';

/** Beyond noise only when the two ranges do not overlap; lower is better for every figure compared. */
function verdict(before: Figure, after: Figure): Verdict {
  if (!before.range || !after.range) return 'no range';
  if (after.range[1] < before.range[0]) return 'better';
  if (after.range[0] > before.range[1]) return 'worse';
  return 'within noise';
}

function shown(f: Figure | undefined): string {
  if (!f) return '–';
  return f.range
    ? `${Math.round(f.value)} [${Math.round(f.range[0])}–${Math.round(f.range[1])}]`
    : `${Math.round(f.value)}`;
}

function change(before: number, after: number): string {
  if (before === 0) return '–';
  const percent = ((after - before) / before) * 100;
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(0)}%`;
}

/**
 * The latest run against the one before it, figure by figure, for every system and scenario both ran (the earlier
 * run is the latest one on the same machine kind that has that system and scenario). Latencies carry their 95%
 * ranges; CPU carries the run-to-run noise seen between repeats of one revision, when the history has any.
 */
export function compareLatest(history: readonly HistoryEntry[]): string[] {
  const latest = history[history.length - 1];
  if (!latest) return ['No benchmark runs on record yet: `npm run bench` writes the first.'];
  const lines = [`Latest: ${latest.revision} on ${latest.date} (${latest.machine.cpus} × ${latest.machine.cpuModel})`];
  for (const [system, scenarios] of Object.entries(latest.systems)) {
    for (const [scenario, after] of Object.entries(scenarios)) {
      const previous = [...history.slice(0, -1)]
        .reverse()
        .find((entry) => sameMachine(entry, latest) && entry.systems[system]?.[scenario]);
      const before = previous?.systems[system]?.[scenario];
      lines.push(
        '',
        `${system} ${scenario}: ${before ? `against ${previous.revision} of ${previous.date}` : 'nothing earlier to compare with'}`,
      );
      if (!before || !previous) continue;
      lines.push('| figure | before | after | change | verdict |', '| --- | --- | --- | --- | --- |');
      const latency = (name: string, b: Figure | undefined, a: Figure | undefined) => {
        if (!b || !a) return;
        lines.push(`| ${name} | ${shown(b)} | ${shown(a)} | ${change(b.value, a.value)} | ${verdict(b, a)} |`);
      };
      latency('overhead ms p50', before.overheadP50Ms, after.overheadP50Ms);
      latency('overhead ms p99', before.overheadP99Ms, after.overheadP99Ms);
      latency('POST ms p99', before.postP99Ms, after.postP99Ms);
      latency('GET ms p99', before.getP99Ms, after.getP99Ms);
      latency('search ms p99', before.searchP99Ms, after.searchP99Ms);
      const noise = repeatNoise(history, system, scenario);
      const cpuChange =
        (after.cpuSecondsPer1000Chunks - before.cpuSecondsPer1000Chunks) / before.cpuSecondsPer1000Chunks;
      const cpuVerdict =
        noise === undefined
          ? `no repeat on record`
          : Math.abs(cpuChange) <= noise
            ? `within noise (±${(noise * 100).toFixed(0)}%)`
            : `${cpuChange < 0 ? 'better' : 'worse'} (noise ±${(noise * 100).toFixed(0)}%)`;
      lines.push(
        `| CPU s / 1000 chunks | ${before.cpuSecondsPer1000Chunks} | ${after.cpuSecondsPer1000Chunks} | ${change(before.cpuSecondsPer1000Chunks, after.cpuSecondsPer1000Chunks)} | ${cpuVerdict} |`,
      );
      for (const [process, cpu] of Object.entries(after.processCpuSecondsPer1000Chunks)) {
        const was = before.processCpuSecondsPer1000Chunks[process];
        if (was !== undefined) lines.push(`| · ${process} | ${was} | ${cpu} | ${change(was, cpu)} | |`);
      }
      lines.push(
        `| peak memory MB | ${before.peakMemoryMb} | ${after.peakMemoryMb} | ${change(before.peakMemoryMb, after.peakMemoryMb)} | |`,
      );
      if (before.historyEventsPerChunk !== undefined && after.historyEventsPerChunk !== undefined) {
        lines.push(
          `| history events / chunk | ${before.historyEventsPerChunk} | ${after.historyEventsPerChunk} | ${change(before.historyEventsPerChunk, after.historyEventsPerChunk)} | |`,
        );
      }
      const lost = after.lost + after.transcribedTwice;
      if (lost > 0)
        lines.push(`**${after.lost} jobs lost, ${after.transcribedTwice} chunks transcribed twice after success.**`);
    }
  }
  return lines;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
