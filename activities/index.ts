import { createDeliverCallback, type DeliverCallbackDependencies } from './deliver-callback';
import { createExpireUploads, type ExpireUploadsDependencies } from './expire-uploads';
import { createMaintainJobRecords, type MaintainJobRecordsDependencies } from './maintain-job-records';
import { createRecordJob, type RecordJobDependencies } from './record-job';
import { createTranscribeChunk, type TranscribeChunkDependencies } from './transcribe-chunk';

export type ActivityDependencies = TranscribeChunkDependencies &
  DeliverCallbackDependencies &
  ExpireUploadsDependencies &
  RecordJobDependencies &
  MaintainJobRecordsDependencies;

/** The worker's activities, built around their injected side effects (ASR, audio store, jobs database, callbacks). */
export function createActivities(dependencies: ActivityDependencies) {
  return {
    transcribeChunk: createTranscribeChunk(dependencies),
    deliverCallback: createDeliverCallback(dependencies),
    expireUploads: createExpireUploads(dependencies),
    ...createRecordJob(dependencies),
    ...createMaintainJobRecords(dependencies),
  };
}
