import { temporal } from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';

/**
 * A worker that polled within this long is alive. A poll's access time is when it began, and an idle worker's
 * long poll lasts up to a minute, so the window is two; a dead worker keeps being counted that long, which only
 * makes the others' shares smaller (safe for the ASR).
 */
const LIVE_WINDOW_MS = 120_000;

/** How often a worker counts its peers to recompute its share of the fleet's ASR limit. */
export const FLEET_COUNT_INTERVAL_MS = 5000;

/** The workers that polled the task queue for chunks lately, this one included even before it polls. */
export async function countLiveWorkers(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  identity: string;
  now?: number;
}): Promise<number> {
  const activity = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;
  // The enhanced mode gathers pollers from every partition of the task queue; the plain one reads the root partition
  // alone, where a worker whose polls land on other partitions may not show for a minute or more.
  const response = await options.connection.workflowService.describeTaskQueue({
    namespace: options.namespace,
    taskQueue: { name: options.taskQueue },
    apiMode: temporal.api.enums.v1.DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
    taskQueueTypes: [activity],
    reportPollers: true,
  });
  const pollers = Object.values(response.versionsInfo ?? {}).flatMap(
    (version) => version.typesInfo?.[activity]?.pollers ?? [],
  );
  const since = (options.now ?? Date.now()) - LIVE_WINDOW_MS;
  const live = new Set([options.identity]);
  for (const poller of pollers) {
    const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
    const lastSeenMs = seconds * 1000 + Math.floor((poller.lastAccessTime?.nanos ?? 0) / 1e6);
    if (poller.identity && lastSeenMs >= since) live.add(poller.identity);
  }
  return live.size;
}

/**
 * Counts the live workers now and then every `everyMs`, reporting each count; a failed count keeps the last
 * one. Returns a function that stops watching.
 */
export async function watchLiveWorkers(
  options: Omit<Parameters<typeof countLiveWorkers>[0], 'now'> & { everyMs: number; onCount: (count: number) => void },
): Promise<() => void> {
  const count = async () => {
    try {
      options.onCount(await countLiveWorkers(options));
    } catch {
      // The next count will tell; until then the share stays as it was.
    }
  };
  await count();
  const timer = setInterval(() => void count(), options.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
