import { createDeliverCallback, type DeliverCallbackDependencies } from './deliver-callback';
import { createTranscribeChunk, type TranscribeChunkDependencies } from './transcribe-chunk';

export type ActivityDependencies = TranscribeChunkDependencies & DeliverCallbackDependencies;

/** The worker's activities, built around their injected side effects (ASR client, audio store, callback sender). */
export function createActivities(dependencies: ActivityDependencies) {
  return {
    transcribeChunk: createTranscribeChunk(dependencies),
    deliverCallback: createDeliverCallback(dependencies),
  };
}
