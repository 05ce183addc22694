import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/** The pids of a cluster's processes as its files name them now. */
export interface ClusterPids {
  /** By process name (`frontend-1`, `history-2`, `ui-1`, …), from `pids/<name>.pid`. */
  processes: Record<string, number>;
  /** PostgreSQL's postmaster, the parent of every backend, from the first line of `postgres/postmaster.pid`. */
  postgres: number | undefined;
}

/**
 * Reads the pid files of the cluster in `clusterDir` (`$DATA_DIR/cluster`), for tools that watch it from outside
 * (the benchmark counts each process's CPU). Read-only; a file that is missing or half-written is left out.
 */
export async function readClusterPids(clusterDir: string): Promise<ClusterPids> {
  const pidsDir = path.join(clusterDir, 'pids');
  const processes: Record<string, number> = {};
  const files = await readdir(pidsDir).catch(() => [] as string[]);
  for (const file of files.filter((name) => name.endsWith('.pid')).sort()) {
    const pid = await firstLinePid(path.join(pidsDir, file));
    if (pid !== undefined) processes[file.slice(0, -'.pid'.length)] = pid;
  }
  return { processes, postgres: await firstLinePid(path.join(clusterDir, 'postgres', 'postmaster.pid')) };
}

async function firstLinePid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
