import { Context, log } from '@temporalio/activity';
import type { AudioStore } from '../src/storage/audio-store';
import { userSpace } from '../src/storage/audio-paths';
import { runningJobOwners } from '../src/temporal/running-jobs';
import type { ExpireUploadsResult } from '../workflows/contract';

export interface ExpireUploadsDependencies {
  audio: Pick<AudioStore, 'expireUploads' | 'layout'>;
}

/**
 * Builds the `expireUploads` activity: removes every upload past its retention, except those of users who have a
 * job in progress right now (read from Temporal's visibility), so a running job never loses its files; they go in
 * a later sweep. In the shared layout files have no owner, so a sweep finds nothing to spare and waits while any
 * job runs.
 */
export function createExpireUploads({ audio }: ExpireUploadsDependencies) {
  return async function expireUploads(): Promise<ExpireUploadsResult> {
    const context = Context.current();
    const busySpaces = new Set<string>();
    let anyRunning = false;
    for await (const { userId } of runningJobOwners(context.client)) {
      anyRunning = true;
      if (userId !== undefined) busySpaces.add(userSpace(userId));
    }
    if (audio.layout === 'shared' && anyRunning) {
      log.info('uploads not swept: jobs are running and the shared layout cannot tell whose files they need');
      return { removed: 0, kept: 0 };
    }
    const result = await audio.expireUploads((key) => {
      context.heartbeat();
      return key.space !== null && busySpaces.has(key.space);
    });
    log.info('expired uploads swept', { ...result });
    return result;
  };
}
