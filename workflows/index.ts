export { TranscriptionWorkflow } from './transcription-workflow';
export { CallbackDeliveryWorkflow } from './callback-delivery-workflow';
