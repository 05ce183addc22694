import { readFile, readdir } from 'node:fs/promises';

/** CPU seconds used so far and resident memory of one process, read from Linux's /proc. */
export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
}

const CLOCK_TICKS = 100;

/** utime, stime, cutime and cstime of /proc/<pid>/stat, in seconds. */
async function cpuTimes(pid: number): Promise<{ own: number; reapedChildren: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime, stime, cutime and cstime are the 14th to 17th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    own: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
    reapedChildren: (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS,
  };
}

export async function sampleProcess(pid: number): Promise<ProcessSample | undefined> {
  try {
    const { own } = await cpuTimes(pid);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: own, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** The pids of a process's children (e.g. the dev server under its shell guard), from every thread of it. */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const children: number[] = [];
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
      children.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
    }
    return children;
  } catch {
    return [];
  }
}

/** A process's children other than the watcher subshell of a shell guard (src/process/guarded-process.ts). */
export async function guardedPids(guardPid: number): Promise<number[]> {
  const children: number[] = [];
  for (const pid of await childPids(guardPid)) {
    const command = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if (command !== 'sh') children.push(pid);
  }
  return children;
}

/** A process and all its descendants, the process first. */
export async function processTree(pid: number): Promise<number[]> {
  const tree = [pid];
  for (let index = 0; index < tree.length; index += 1) tree.push(...(await childPids(tree[index] as number)));
  return tree;
}

/** A whole process tree at one moment: what a server made of many processes (PostgreSQL) costs. */
export interface TreeSample {
  /**
   * CPU seconds of every process in the tree, those that have exited included: each live process's own time plus
   * what its children that exited and were waited for had used (cutime and cstime). Continuous while processes come
   * and go, as long as each is reaped by its parent in the tree (PostgreSQL's postmaster reaps its backends).
   */
  cpuSeconds: number;
  /**
   * Proportional set size summed over the tree, when asked for: each shared page divided among the processes that
   * map it. Summing RSS instead would count PostgreSQL's shared buffers once per backend that has touched them.
   */
  pssBytes: number | undefined;
  processes: number;
}

/**
 * The tree's CPU and process count; its memory only with `memory`, as reading it costs the kernel a walk of every
 * mapping of every process (about 0.5 ms a process here: 40 ms for PostgreSQL's 80 under load).
 */
export async function sampleTree(rootPid: number, { memory }: { memory: boolean }): Promise<TreeSample | undefined> {
  let cpuSeconds = 0;
  let pssBytes = 0;
  let processes = 0;
  for (const pid of await processTree(rootPid)) {
    try {
      const { own, reapedChildren } = await cpuTimes(pid);
      const rollup = memory ? await readFile(`/proc/${pid}/smaps_rollup`, 'utf8') : '';
      cpuSeconds += own + reapedChildren;
      pssBytes += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024;
      processes += 1;
    } catch {
      // Exited between the listing and the read: its time is in its parent's cutime by the next sample.
    }
  }
  return processes === 0 ? undefined : { cpuSeconds, pssBytes: memory ? pssBytes : undefined, processes };
}
