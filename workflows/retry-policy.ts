import type { RetryPolicy } from '@temporalio/common';
import type { ChunkRetryPolicy } from './contract';

/** The service's retry settings as Temporal's declarative policy: one mapping for chunks and callbacks alike. */
export function temporalRetryPolicy(policy: ChunkRetryPolicy, nonRetryableErrorTypes: string[]): RetryPolicy {
  return {
    maximumAttempts: policy.maximumAttempts,
    initialInterval: policy.initialIntervalMs,
    backoffCoefficient: policy.backoffCoefficient,
    maximumInterval: policy.maximumIntervalMs,
    nonRetryableErrorTypes,
  };
}
