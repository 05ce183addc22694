import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the time goes under load, for `npm run bench -- --profile`: Linux perf on the dev server (a Go binary
 * with symbols), V8's CPU profiler on our Node processes, and the dev server's own persistence metrics.
 */

export interface HotSpot {
  name: string;
  /** Share of the process's sampled CPU time, in percent. */
  percent: number;
}

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Samples where a running process is on the CPU until `stop()`; returns its hottest functions and Go packages.
 * The Temporal CLI binary is stripped, so perf cannot name its functions; Go's own `addr2line` can, from the
 * binary's pclntab, and is used when a Go toolchain is installed.
 */
export function startPerf(
  pid: number,
  binary: string,
  outFile: string,
): { stop(): Promise<{ symbols: HotSpot[]; packages: HotSpot[] }> } {
  const recorder = spawn('perf', ['record', '-F', '499', '-p', String(pid), '-o', outFile], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => recorder.once('exit', () => resolve()));
  return {
    async stop() {
      recorder.kill('SIGINT');
      await exited;
      const script = spawnSync('perf', ['script', '-i', outFile, '-F', 'ip,sym,dso'], {
        encoding: 'utf8',
        maxBuffer: 512 * 1024 * 1024,
      });
      const samples: { ip: string; symbol: string; inBinary: boolean }[] = [];
      for (const line of script.stdout.split('\n')) {
        const match = /^\s*([0-9a-f]+)\s+(.*?)\s*\(([^)]*)\)\s*$/.exec(line);
        if (!match?.[1] || match[2] === undefined || match[3] === undefined) continue;
        const inBinary = path.basename(match[3]) === path.basename(binary);
        const symbol = match[3].includes('kernel') ? `kernel: ${match[2].replace(/\+0x[0-9a-f]+$/, '')}` : match[2];
        samples.push({ ip: match[1], symbol, inBinary });
      }
      const goNames = goFunctionNames(
        binary,
        samples.filter((sample) => sample.inBinary).map((sample) => sample.ip),
      );
      const counts = new Map<string, number>();
      for (const sample of samples) {
        const name = (sample.inBinary ? goNames.get(sample.ip) : undefined) ?? (sample.symbol || `0x${sample.ip}`);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      const total = samples.length || 1;
      const symbols = [...counts.entries()]
        .map(([name, count]) => ({ name, percent: (count / total) * 100 }))
        .sort((x, y) => y.percent - x.percent);
      return { symbols: symbols.slice(0, 20), packages: byGroup(symbols, goPackage).slice(0, 12) };
    },
  };
}

/** Function names for addresses inside a Go binary, from `go tool addr2line`; empty without a Go toolchain. */
function goFunctionNames(binary: string, ips: string[]): Map<string, string> {
  const unique = [...new Set(ips)];
  const names = new Map<string, string>();
  const resolved = spawnSync('go', ['tool', 'addr2line', binary], {
    input: unique.map((ip) => `0x${ip}`).join('\n'),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (resolved.status !== 0 || typeof resolved.stdout !== 'string') return names;
  // Two lines per address: the function, then file:line.
  const lines = resolved.stdout.split('\n');
  unique.forEach((ip, index) => {
    const name = lines[index * 2];
    if (name && name !== '?') names.set(ip, name);
  });
  return names;
}

/** The Go package a symbol belongs to, coarse enough to tell SQLite from gRPC from the runtime. */
export function goPackage(symbol: string): string {
  if (symbol.startsWith('modernc.org/sqlite') || symbol.startsWith('modernc.org/libc')) return 'SQLite (modernc.org)';
  if (symbol.startsWith('runtime.') || symbol.startsWith('runtime/')) return 'Go runtime (GC, scheduler)';
  if (symbol.startsWith('go.temporal.io/server/')) {
    const [, area] = /^go\.temporal\.io\/server\/([^/.]+(?:\/[^/.]+)?)/.exec(symbol) ?? [];
    return `Temporal server: ${area ?? 'other'}`;
  }
  if (symbol.startsWith('google.golang.org/grpc') || symbol.startsWith('golang.org/x/net/http2')) return 'gRPC / HTTP2';
  if (symbol.startsWith('google.golang.org/protobuf') || symbol.startsWith('go.temporal.io/api')) return 'protobuf';
  if (/^(syscall|internal\/poll|net\.|os\.)/.test(symbol)) return 'system calls';
  if (symbol.startsWith('kernel: ')) return 'Linux kernel (system calls, page faults, scheduling)';
  return 'other';
}

function byGroup(spots: HotSpot[], group: (name: string) => string): HotSpot[] {
  const totals = new Map<string, number>();
  for (const spot of spots) {
    const key = group(spot.name);
    totals.set(key, (totals.get(key) ?? 0) + spot.percent);
  }
  return [...totals.entries()]
    .map(([name, percent]) => ({ name, percent: Math.round(percent * 10) / 10 }))
    .sort((a, b) => b.percent - a.percent);
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
}

/** The hottest functions and modules of the V8 CPU profile(s) a process wrote with `--cpu-prof`. */
export async function summarizeCpuProfiles(dir: string): Promise<{ functions: HotSpot[]; modules: HotSpot[] }> {
  const hits = new Map<string, number>();
  const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    for (const node of profile.nodes) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`;
      const key = `${functionName || '(anonymous)'}${where}`;
      hits.set(key, (hits.get(key) ?? 0) + (node.hitCount ?? 0));
    }
  }
  const busy = [...hits.entries()].filter(([name]) => name !== '(idle)');
  const total = busy.reduce((sum, [, count]) => sum + count, 0) || 1;
  const spots = busy
    .map(([name, count]) => ({ name, percent: Math.round((count / total) * 1000) / 10 }))
    .sort((a, b) => b.percent - a.percent);
  return { functions: spots.slice(0, 15), modules: byGroup(spots, nodeModule).slice(0, 10) };
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + '/dist/'.length) : url.replace(/^file:\/\//, '');
}

/** The npm package, our own folder, or V8's bucket a profiled function belongs to. */
export function nodeModule(name: string): string {
  const where = name.slice(name.lastIndexOf(' ') + 1);
  if (!where.includes(':')) return name.startsWith('(') ? name : '(native)';
  const scoped = /^(@[^/]+\/[^/]+)\//.exec(where);
  if (scoped?.[1]) return scoped[1];
  if (where.startsWith('node:')) return 'Node core';
  const [first] = where.split('/');
  return first ?? where;
}

export interface OperationLatency {
  /** The metric family: persistence_latency, visibility_persistence_latency or service_latency. */
  family: string;
  service: string;
  operation: string;
  calls: number;
  meanMs: number;
  totalSeconds: number;
}

type LatencyTotals = Map<string, { count: number; sum: number }>;

const LATENCY_FAMILIES = ['persistence_latency', 'visibility_persistence_latency', 'service_latency'];

/** Latency sums and counts by family, service and operation, from the dev server's Prometheus text. */
export async function scrapeLatencies(metricsUrl: string): Promise<LatencyTotals> {
  const text = await (await fetch(metricsUrl)).text();
  const totals: LatencyTotals = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)_(sum|count)\{([^}]*)\}\s+([\d.e+-]+)/.exec(line);
    if (!match?.[1] || !LATENCY_FAMILIES.includes(match[1]) || match[3] === undefined || !match[4]) continue;
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(match[3] as string)?.[1] ?? '';
    const key = [match[1], label('service_name'), label('operation')].join('|');
    const entry = totals.get(key) ?? { count: 0, sum: 0 };
    entry[match[2] as 'sum' | 'count'] += Number(match[4]);
    totals.set(key, entry);
  }
  return totals;
}

/** What happened between two scrapes, most total time first. */
export function latenciesBetween(before: LatencyTotals, after: LatencyTotals): OperationLatency[] {
  return [...after.entries()]
    .map(([key, { count, sum }]) => {
      const [family = '', service = '', operation = ''] = key.split('|');
      const calls = count - (before.get(key)?.count ?? 0);
      const seconds = sum - (before.get(key)?.sum ?? 0);
      return {
        family,
        service,
        operation,
        calls,
        meanMs: calls > 0 ? (seconds / calls) * 1000 : 0,
        totalSeconds: seconds,
      };
    })
    .filter((entry) => entry.calls > 0)
    .sort((x, y) => y.totalSeconds - x.totalSeconds);
}
