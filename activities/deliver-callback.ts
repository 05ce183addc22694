import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { CallbackRejectedError, type CallbackSender } from '../src/callbacks/callback-sender';
import { CALLBACK_REJECTED_ERROR, type CallbackDelivery } from '../workflows/contract';

export interface DeliverCallbackDependencies {
  callbacks: Pick<CallbackSender, 'send'>;
}

/**
 * Builds the `deliverCallback` activity: one signed POST of a job's result to its callback URL. A refusal or a 4xx
 * fails for good; anything else is retried by the delivery workflow's policy.
 */
export function createDeliverCallback({ callbacks }: DeliverCallbackDependencies) {
  return async function deliverCallback(delivery: CallbackDelivery): Promise<{ status: number }> {
    const context = Context.current();
    const { attempt } = context.info;
    const where = { jobId: delivery.jobId, deliveryId: delivery.deliveryId, attempt };
    try {
      const userId = jobOwner(delivery);
      const { status, replyBytes } = await callbacks.send(
        { ...delivery, userId },
        { signal: context.cancellationSignal },
      );
      log.info('callback delivered', { ...where, status, replyBytes });
      return { status };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      log.warn('callback attempt failed', { ...where, error: error.message });
      if (context.cancellationSignal.aborted) throw err;
      throw ApplicationFailure.create({
        type: err instanceof CallbackRejectedError ? CALLBACK_REJECTED_ERROR : error.name,
        message: error.message,
        nonRetryable: err instanceof CallbackRejectedError,
      });
    }
  };
}

/**
 * Whose job the callback tells of: the `userId` of the result the workflow made from the job's own input. It picks
 * the allow-list entries the URL may match and the key the callback is signed with.
 */
function jobOwner(delivery: CallbackDelivery): string {
  let userId: unknown;
  try {
    userId = (JSON.parse(delivery.body) as { userId?: unknown }).userId;
  } catch {
    userId = undefined;
  }
  if (typeof userId !== 'string' || userId === '') {
    throw new CallbackRejectedError('callback refused: its body names no user');
  }
  return userId;
}
