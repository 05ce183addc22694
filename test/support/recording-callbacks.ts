import type { CallbackReply, CallbackSender, OutgoingCallback } from '../../src/callbacks/callback-sender';

/**
 * TEST DOUBLE of the callback sender for time-skipping workflow tests: records every delivery attempt with the
 * test server's clock, and fails the first ones with the scripted errors.
 */
export class RecordingCallbacks implements Pick<CallbackSender, 'send'> {
  readonly attempts: { delivery: OutgoingCallback; atMs: number }[] = [];

  constructor(
    private readonly clock: () => Promise<number>,
    private readonly failures: Error[] = [],
  ) {}

  async send(delivery: OutgoingCallback): Promise<CallbackReply> {
    this.attempts.push({ delivery, atMs: await this.clock() });
    const failure = this.failures.shift();
    if (failure) throw failure;
    return { status: 204, replyBytes: 0 };
  }
}
