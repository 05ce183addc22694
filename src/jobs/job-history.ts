import type { temporal } from '@temporalio/proto';
import {
  chunkIndexOf,
  initialChunkStates,
  type ChunkState,
  type TranscribeChunkResult,
  type TranscriptionJobInput,
} from '../../workflows/contract';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayload[] | null | undefined;
type Failure = temporal.api.failure.v1.IFailure | null | undefined;

/** Decodes history with the client's data converter (so it goes through the codec). */
export interface HistoryDecoder {
  /** The first value of a payload list. */
  payloads(payloads: Payloads): Promise<unknown>;
  /** A failure, its message (encrypted in history) included. */
  failure(failure: Failure): Promise<Error | undefined>;
}

/**
 * Rebuilds a job's chunk states from its event history: for jobs whose workflow cannot be asked (terminated,
 * cancelled, or running while no worker is up). Chunks that had not finished are marked `failed` with
 * `unfinishedReason` when given (the job is over), else left `pending`.
 */
export async function jobStateFromHistory(
  events: HistoryEvent[],
  decode: HistoryDecoder,
  unfinishedReason?: string,
): Promise<{ userId: string; chunks: ChunkState[] }> {
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error('history does not begin with the workflow start');
  const input = (await decode.payloads(started.input?.payloads)) as TranscriptionJobInput;
  const chunks = initialChunkStates(input.audioChunkPaths);
  const scheduled = new Map<string, ChunkState>();
  const chunkFor = (scheduledEventId: unknown): ChunkState | undefined => scheduled.get(String(scheduledEventId));

  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes) {
      const index = chunkIndexOf(event.activityTaskScheduledEventAttributes.activityId);
      const chunk = index === undefined ? undefined : chunks[index];
      if (chunk) scheduled.set(String(event.eventId), chunk);
    } else if (event.activityTaskStartedEventAttributes) {
      const attributes = event.activityTaskStartedEventAttributes;
      const chunk = chunkFor(attributes.scheduledEventId);
      if (chunk) Object.assign(chunk, { status: 'in_progress', attempts: attributes.attempt ?? 1 });
    } else if (event.activityTaskCompletedEventAttributes) {
      const attributes = event.activityTaskCompletedEventAttributes;
      const chunk = chunkFor(attributes.scheduledEventId);
      if (!chunk) continue;
      const result = (await decode.payloads(attributes.result?.payloads)) as TranscribeChunkResult;
      Object.assign(chunk, {
        status: 'completed',
        transcript: result.transcript,
        // Results recorded before chunks had timings carry neither.
        segments: result.segments ?? null,
        durationSeconds: result.durationSeconds ?? null,
        attempts: result.attempt,
        error: null,
      });
    } else {
      const ended =
        event.activityTaskFailedEventAttributes ??
        event.activityTaskTimedOutEventAttributes ??
        event.activityTaskCanceledEventAttributes;
      const chunk = ended ? chunkFor(ended.scheduledEventId) : undefined;
      if (!chunk || !ended) continue;
      const failure = 'failure' in ended ? await decode.failure(ended.failure) : undefined;
      const cause = failure?.cause instanceof Error ? failure.cause : undefined;
      const message = cause?.message || failure?.message || 'canceled';
      Object.assign(chunk, { status: 'failed', error: message });
    }
  }
  if (unfinishedReason !== undefined) {
    for (const chunk of chunks) {
      if (chunk.status === 'pending' || chunk.status === 'in_progress') {
        Object.assign(chunk, { status: 'failed', error: chunk.error ?? unfinishedReason });
      }
    }
  }
  return { userId: input.userId, chunks };
}
