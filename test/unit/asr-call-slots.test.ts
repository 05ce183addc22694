import { temporal } from '@temporalio/proto';
import type { NativeConnection, SlotReserveContext } from '@temporalio/worker';
import { AsrCallSlots } from '../../src/asr/asr-call-slots';
import { countLiveWorkers } from '../../src/temporal/live-workers';

const ctx = { slotType: 'activity', taskQueue: 'transcription', workerIdentity: 'w1' } as SlotReserveContext;
const never = new AbortController().signal;

/** Resolves true if the promise settles within a few event-loop turns. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('AsrCallSlots', () => {
  it('when several workers share the fleet limit, then each takes an equal share, never above its own limit', () => {
    const slots = new AsrCallSlots({ perWorker: 400, fleet: 1000 });
    expect(slots.share).toBe(400);
    slots.setLiveWorkers(3);
    expect(slots.share).toBe(333);
    slots.setLiveWorkers(5000);
    expect(slots.share).toBe(1);
  });

  it('when the share is taken, then the next chunk waits for a call to finish', async () => {
    const slots = new AsrCallSlots({ perWorker: 2, fleet: 1000 });
    await slots.reserveSlot(ctx, never);
    await slots.reserveSlot(ctx, never);
    expect(slots.tryReserveSlot(ctx)).toBeNull();
    const third = slots.reserveSlot(ctx, never);
    expect(await settlesSoon(third)).toBe(false);
    slots.releaseSlot({ permit: {} });
    expect(await settlesSoon(third)).toBe(true);
    expect(slots.inUse).toBe(2);
  });

  it('when another worker joins, then this one takes no new chunk until its calls drop under the new share', async () => {
    const slots = new AsrCallSlots({ perWorker: 10, fleet: 4 });
    for (let call = 0; call < 4; call += 1) await slots.reserveSlot(ctx, never);
    slots.setLiveWorkers(2);
    slots.releaseSlot({ permit: {} });
    slots.releaseSlot({ permit: {} });
    expect(slots.tryReserveSlot(ctx)).toBeNull();
    slots.releaseSlot({ permit: {} });
    expect(slots.tryReserveSlot(ctx)).not.toBeNull();
  });

  it('when a share shrinks after chunks were reserved under the old one, then their ASR calls wait for the new share', async () => {
    const slots = new AsrCallSlots({ perWorker: 10, fleet: 4 });
    // Four polls reserved while this worker was alone; then another joins and the share is 2.
    for (let poll = 0; poll < 4; poll += 1) await slots.reserveSlot(ctx, never);
    slots.setLiveWorkers(2);
    const first = await slots.beginCall(never);
    await slots.beginCall(never);
    const third = slots.beginCall(never);
    expect(await settlesSoon(third)).toBe(false);
    expect(slots.calls).toBe(2);
    first();
    // Ending a call twice counts once.
    first();
    expect(await settlesSoon(third)).toBe(true);
    expect(slots.calls).toBe(2);
  });

  it('when calls wait for the share, then each call that ends lets the one waiting longest begin, and only it', async () => {
    const slots = new AsrCallSlots({ perWorker: 1, fleet: 1 });
    const first = await slots.beginCall(never);
    const second = slots.beginCall(never);
    const third = slots.beginCall(never);
    first();
    expect(await settlesSoon(second)).toBe(true);
    expect(await settlesSoon(third)).toBe(false);
    (await second)();
    expect(await settlesSoon(third)).toBe(true);
    expect(slots.calls).toBe(1);
  });

  it('when a job is cancelled while its call waits for the share, then the wait ends with the reason and counts nothing', async () => {
    const slots = new AsrCallSlots({ perWorker: 1, fleet: 1 });
    await slots.beginCall(never);
    const cancel = new AbortController();
    const waiting = slots.beginCall(cancel.signal);
    cancel.abort(new Error('job canceled'));
    await expect(waiting).rejects.toThrow('job canceled');
    expect(slots.calls).toBe(1);
  });

  it('when a worker leaves, then the waiting chunks of the others start', async () => {
    const slots = new AsrCallSlots({ perWorker: 10, fleet: 4 });
    slots.setLiveWorkers(2);
    await slots.reserveSlot(ctx, never);
    await slots.reserveSlot(ctx, never);
    const waiting = slots.reserveSlot(ctx, never);
    expect(await settlesSoon(waiting)).toBe(false);
    slots.setLiveWorkers(1);
    expect(await settlesSoon(waiting)).toBe(true);
  });

  it('when the worker gives up a waiting reservation, then it is rejected with the abort reason and holds nothing', async () => {
    const slots = new AsrCallSlots({ perWorker: 1, fleet: 1 });
    await slots.reserveSlot(ctx, never);
    const controller = new AbortController();
    const waiting = slots.reserveSlot(ctx, controller.signal);
    const reason = new Error('poller stopped');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    slots.releaseSlot({ permit: {} });
    expect(slots.inUse).toBe(0);
  });
});

describe('countLiveWorkers', () => {
  /** A stub of the one Temporal call the count makes. */
  const connectionWith = (pollers: { identity: string; lastSeenMs: number }[]) =>
    ({
      workflowService: {
        // The enhanced mode's answer: pollers by build id (none: '') and task queue type, from every partition.
        describeTaskQueue: async () => ({
          versionsInfo: {
            '': {
              typesInfo: {
                [temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]: {
                  pollers: pollers.map((poller) => ({
                    identity: poller.identity,
                    lastAccessTime: {
                      seconds: Math.floor(poller.lastSeenMs / 1000),
                      nanos: (poller.lastSeenMs % 1000) * 1e6,
                    },
                  })),
                },
              },
            },
          },
        }),
      },
    }) as unknown as NativeConnection;

  it('when workers polled within the last two minutes, then each counts once, this one included before it polls', async () => {
    const now = 1_800_000_000_000;
    const count = await countLiveWorkers({
      connection: connectionWith([
        { identity: 'a', lastSeenMs: now - 1000 },
        { identity: 'a', lastSeenMs: now - 500 },
        { identity: 'b', lastSeenMs: now - 119_000 },
        { identity: 'gone', lastSeenMs: now - 121_000 },
      ]),
      namespace: 'default',
      taskQueue: 'transcription',
      identity: 'me',
      now,
    });
    expect(count).toBe(3);
  });
});
