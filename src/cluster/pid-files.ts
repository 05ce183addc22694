import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Refuses to start a second cluster on the same folder while processes of the first still run, named in the pid
 * files it left. A pid file whose process is gone (a cluster killed outright: its processes stop with it) or is now
 * another program is ignored, and overwritten by this start.
 */
export async function refuseRunningCluster(pidsDir: string): Promise<void> {
  let files: string[];
  try {
    files = (await readdir(pidsDir)).filter((file) => file.endsWith('.pid'));
  } catch {
    return;
  }
  for (const file of files) {
    const pid = Number((await readFile(path.join(pidsDir, file), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && (await isClusterProcess(pid))) {
      throw new Error(
        `a cluster already runs on ${path.dirname(pidsDir)} (its ${file.replace(/\.pid$/, '')} has pid ${pid}): stop ` +
          'it first (Ctrl-C or SIGTERM to the `npm run cluster` that runs it), or give this one another DATA_DIR',
      );
    }
  }
}

/** Whether `pid` runs one of the cluster's programs: a pid can be reused by anything once its process is gone. */
async function isClusterProcess(pid: number): Promise<boolean> {
  try {
    const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return command.some((arg) => /(^|\/)(temporal-server|ui-server)$/.test(arg));
  } catch {
    return false;
  }
}
