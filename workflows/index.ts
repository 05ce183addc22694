export { TranscriptionWorkflow } from './transcription-workflow';
export { CallbackDeliveryWorkflow } from './callback-delivery-workflow';
export { ExpireUploadsWorkflow } from './expire-uploads-workflow';
export { ReconcileJobRecordsWorkflow, ExpireJobRecordsWorkflow } from './job-record-workflows';
