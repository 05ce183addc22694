import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readClusterPids } from '../../src/cluster/cluster-pids';
import { tempDir } from '../support/temp-dir';

describe("reading a cluster's pids from outside", () => {
  it('when the cluster runs, then each process is named by its pid file and PostgreSQL by its postmaster', async () => {
    const dir = await tempDir('cluster-pids');
    await mkdir(path.join(dir, 'pids'));
    await mkdir(path.join(dir, 'postgres'));
    await writeFile(path.join(dir, 'pids', 'history-2.pid'), '4242\n');
    await writeFile(path.join(dir, 'pids', 'frontend-1.pid'), '4240\n');
    await writeFile(path.join(dir, 'pids', 'matching-1.pid'), '');
    await writeFile(path.join(dir, 'postgres', 'postmaster.pid'), '4100\n/data\n1700000000\n7263\n');
    expect(await readClusterPids(dir)).toEqual({
      processes: { 'frontend-1': 4240, 'history-2': 4242 },
      postgres: 4100,
    });
  });

  it('when nothing has started yet, then there are no pids', async () => {
    expect(await readClusterPids(path.join(await tempDir('cluster-pids'), 'missing'))).toEqual({
      processes: {},
      postgres: undefined,
    });
  });
});
