import { sampleProcess, sampleTree } from './process-usage';

/** One continuous CPU counter and the memory behind it now: a process, or a whole process tree. */
export interface Meter {
  /** Stays the same for as long as the counter counts on: a pid, or a tree's root pid. */
  key: string;
  /** The process's pid, or the tree's root's. */
  pid: number;
  cpuSeconds: number;
  memoryBytes: number;
  processes: number;
}

/** The meters of one named part of a system (its pids may change: a worker killed and replaced). */
export type MeterSource = () => Promise<Meter[]>;

/** What one named part used between the first and the last sample. */
export interface PartUsage {
  cpuSeconds: number;
  peakMemoryMb: number;
  /** The most processes it had at once (PostgreSQL: backends and its own auxiliary processes). */
  peakProcesses: number;
}

/** Each pid as a meter of its own. */
export async function pidMeters(pids: readonly number[]): Promise<Meter[]> {
  const meters: Meter[] = [];
  for (const pid of pids) {
    const sample = await sampleProcess(pid);
    if (sample)
      meters.push({
        key: `pid:${pid}`,
        pid,
        cpuSeconds: sample.cpuSeconds,
        memoryBytes: sample.rssBytes,
        processes: 1,
      });
  }
  return meters;
}

/** How often a process tree's memory is read; its CPU is read at every sample (see `sampleTree`). */
const TREE_MEMORY_INTERVAL_MS = 5000;

/**
 * A process and its descendants as one meter (PostgreSQL's postmaster and its backends), the root looked up at
 * each sample. Its memory is the last one read, at most {@link TREE_MEMORY_INTERVAL_MS} old.
 */
export function treeMeterSource(rootPid: () => Promise<number | undefined>): MeterSource {
  let memory = { root: -1, readMs: 0, bytes: 0 };
  return async () => {
    const root = await rootPid();
    if (root === undefined) return [];
    const due = memory.root !== root || Date.now() - memory.readMs >= TREE_MEMORY_INTERVAL_MS;
    const sample = await sampleTree(root, { memory: due });
    if (!sample) return [];
    if (sample.pssBytes !== undefined) memory = { root, readMs: Date.now(), bytes: sample.pssBytes };
    return [
      {
        key: `tree:${root}`,
        pid: root,
        cpuSeconds: sample.cpuSeconds,
        memoryBytes: memory.bytes,
        processes: sample.processes,
      },
    ];
  };
}

/**
 * CPU and peak memory per named part over a stretch of time, from samples taken along it. CPU is counted per
 * meter from its first to its last sample, so a worker that is killed and replaced contributes what each of its
 * incarnations used (up to its last sample before the kill, at most a second earlier); a meter first seen after the first sample (the new
 * worker) counts from zero.
 */
export class UsageMeter {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private readonly keysByPart = new Map<string, Set<string>>();
  private readonly peakMemory = new Map<string, number>();
  private readonly peakProcesses = new Map<string, number>();
  private sampled = false;

  constructor(private readonly sources: Readonly<Record<string, MeterSource>>) {}

  async sample(): Promise<void> {
    for (const [part, source] of Object.entries(this.sources)) this.add(part, await source());
    this.endRound();
  }

  /** Takes one part's meters as read now: what `sample()` does for each source, then `endRound()`. */
  add(part: string, meters: readonly Meter[]): void {
    let memory = 0;
    let processes = 0;
    const keys = this.keysByPart.get(part) ?? new Set<string>();
    this.keysByPart.set(part, keys);
    for (const meter of meters) {
      memory += meter.memoryBytes;
      processes += meter.processes;
      if (!this.first.has(meter.key)) this.first.set(meter.key, this.sampled ? 0 : meter.cpuSeconds);
      this.last.set(meter.key, meter.cpuSeconds);
      keys.add(meter.key);
    }
    this.peakMemory.set(part, Math.max(this.peakMemory.get(part) ?? 0, memory));
    this.peakProcesses.set(part, Math.max(this.peakProcesses.get(part) ?? 0, processes));
  }

  /** Ends a round of samples: a meter first seen after the first round counts from zero. */
  endRound(): void {
    this.sampled = true;
  }

  usage(): Record<string, PartUsage> {
    const out: Record<string, PartUsage> = {};
    for (const [part, keys] of this.keysByPart) {
      out[part] = {
        cpuSeconds: [...keys].reduce((sum, key) => sum + (this.last.get(key) ?? 0) - (this.first.get(key) ?? 0), 0),
        peakMemoryMb: (this.peakMemory.get(part) ?? 0) / 1024 / 1024,
        peakProcesses: this.peakProcesses.get(part) ?? 0,
      };
    }
    return out;
  }
}
