export { TranscriptionWorkflow } from './transcription-workflow';
