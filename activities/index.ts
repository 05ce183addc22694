import { createTranscribeChunk, type TranscribeChunkDependencies } from './transcribe-chunk';

export type ActivityDependencies = TranscribeChunkDependencies;

/** The worker's activities, built around their injected side effects (ASR client, audio store). */
export function createActivities(dependencies: ActivityDependencies) {
  return {
    transcribeChunk: createTranscribeChunk(dependencies),
  };
}
