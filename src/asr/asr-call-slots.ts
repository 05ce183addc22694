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
 * The share follows the number of live workers ({@link setLiveWorkers}). A worker whose share shrinks does not
 * abort calls under way: it takes no new chunk until it is back under its share, so when a worker joins, the
 * fleet can exceed the limit by the newcomer's share until the older workers' calls in excess finish (one ASR
 * call, at most the interval at which they count the workers again).
 */
export class AsrCallSlots implements CustomSlotSupplier<ActivitySlotInfo> {
  readonly type = 'custom';
  private liveWorkers = 1;
  private held = 0;
  private readonly waiting = new Set<() => void>();

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

  setLiveWorkers(count: number): void {
    this.liveWorkers = Math.max(1, Math.floor(count));
    this.wake();
  }

  async reserveSlot(_ctx: SlotReserveContext, abortSignal: AbortSignal): Promise<SlotPermit> {
    // The SDK recognises a reservation it gave up on by this very object.
    const abortReason = () => abortSignal.reason as Error;
    while (this.held >= this.share) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.waiting.delete(wakeUp);
          reject(abortReason());
        };
        const wakeUp = () => {
          abortSignal.removeEventListener('abort', onAbort);
          resolve();
        };
        if (abortSignal.aborted) {
          reject(abortReason());
          return;
        }
        abortSignal.addEventListener('abort', onAbort, { once: true });
        this.waiting.add(wakeUp);
      });
    }
    this.held += 1;
    return {};
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

  private wake(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const wakeUp of waiting) wakeUp();
  }
}
