import type {
  ActivitySlotInfo,
  CustomSlotSupplier,
  SlotMarkUsedContext,
  SlotPermit,
  SlotReleaseContext,
  SlotReserveContext,
} from '@temporalio/worker';

export interface AsrCallSlotsOptions {
  /** ASR calls this worker makes at once, at most. */
  perWorker: number;
  /** ASR calls all workers of the task queue make at once, at most; each worker takes an equal share. */
  fleet: number;
}

/**
 * How many chunks this worker may transcribe at once: its equal share of the fleet-wide ASR limit, never more
 * than its own limit. Every activity on the chunk task queue is one ASR call, so a slot is a call.
 *
 * The share follows the number of live workers ({@link setLiveWorkers}). Slots are reserved before a chunk arrives
 * (a poll waiting for one, or a workflow task's eager dispatch), so a share that shrinks leaves reservations made under
 * the old one; every ASR call therefore also passes {@link beginCall}, which holds it until this worker is under its
 * share now. A worker whose share shrinks does not abort calls under way, so the fleet exceeds the limit only by the
 * calls already under way when a worker joins, until they end (one ASR call).
 */
export class AsrCallSlots implements CustomSlotSupplier<ActivitySlotInfo> {
  readonly type = 'custom';
  private liveWorkers = 1;
  private held = 0;
  private calling = 0;
  private readonly waiting = new Set<() => void>();
  private readonly waitingToCall = new Set<() => void>();

  constructor(private readonly options: AsrCallSlotsOptions) {
    if (options.perWorker < 1 || options.fleet < 1) throw new RangeError('ASR call limits must be at least 1');
  }

  /** Calls this worker may have under way now. */
  get share(): number {
    return Math.max(1, Math.min(this.options.perWorker, Math.floor(this.options.fleet / this.liveWorkers)));
  }

  /** Slots reserved now: calls under way and polls waiting for a chunk. */
  get inUse(): number {
    return this.held;
  }

  /** ASR calls under way on this worker now. */
  get calls(): number {
    return this.calling;
  }

  setLiveWorkers(count: number): void {
    this.liveWorkers = Math.max(1, Math.floor(count));
    this.wake();
  }

  async reserveSlot(_ctx: SlotReserveContext, abortSignal: AbortSignal): Promise<SlotPermit> {
    while (this.held >= this.share) await waitIn(this.waiting, abortSignal);
    this.held += 1;
    return {};
  }

  /**
   * Waits until this worker makes fewer ASR calls than its share now, then counts one more; the function returned
   * ends it. Rejects with the signal's reason if the call is abandoned while it waits (the job was cancelled).
   */
  async beginCall(abortSignal: AbortSignal): Promise<() => void> {
    while (this.calling >= this.share) await waitIn(this.waitingToCall, abortSignal);
    this.calling += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.calling -= 1;
      this.wake();
    };
  }

  tryReserveSlot(_ctx: SlotReserveContext): SlotPermit | null {
    if (this.held >= this.share) return null;
    this.held += 1;
    return {};
  }

  markSlotUsed(_ctx: SlotMarkUsedContext<ActivitySlotInfo>): void {}

  releaseSlot(_ctx: SlotReleaseContext<ActivitySlotInfo>): void {
    this.held = Math.max(0, this.held - 1);
    this.wake();
  }

  /** Wakes, in the order they began waiting, as many waiters as there is room for now; each checks again. */
  private wake(): void {
    wakeSome(this.waiting, this.share - this.held);
    wakeSome(this.waitingToCall, this.share - this.calling);
  }
}

function wakeSome(queue: Set<() => void>, room: number): void {
  for (const wakeUp of queue) {
    if (room <= 0) return;
    queue.delete(wakeUp);
    wakeUp();
    room -= 1;
  }
}

/** Waits in `queue` until woken, or rejects with the signal's reason (the SDK knows an abandoned wait by it). */
function waitIn(queue: Set<() => void>, abortSignal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      queue.delete(wakeUp);
      reject(abortSignal.reason as Error);
    };
    const wakeUp = () => {
      abortSignal.removeEventListener('abort', onAbort);
      resolve();
    };
    if (abortSignal.aborted) {
      reject(abortSignal.reason as Error);
      return;
    }
    abortSignal.addEventListener('abort', onAbort, { once: true });
    queue.add(wakeUp);
  });
}
