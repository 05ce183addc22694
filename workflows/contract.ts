/**
 * The contract shared by the workflow, its activities, the worker and the API: names, payload shapes,
 * the state query and the search attribute. Workflow-safe: it imports nothing with side effects.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const WORKFLOW_TYPE = 'TranscriptionWorkflow';
export const TRANSCRIBE_CHUNK_ACTIVITY = 'transcribeChunk';
export const CALLBACK_DELIVERY_WORKFLOW_TYPE = 'CallbackDeliveryWorkflow';
export const EXPIRE_UPLOADS_WORKFLOW_TYPE = 'ExpireUploadsWorkflow';
export const RECONCILE_JOB_RECORDS_WORKFLOW_TYPE = 'ReconcileJobRecordsWorkflow';
export const EXPIRE_JOB_RECORDS_WORKFLOW_TYPE = 'ExpireJobRecordsWorkflow';

/** Visibility index of jobs by their owner; `GET /transcript/search` filters on it. */
export const USER_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey('TranscriptionUserId', SearchAttributeType.KEYWORD);
export const CUSTOM_SEARCH_ATTRIBUTES = [USER_ID_SEARCH_ATTRIBUTE] as const;

export const JOB_STATUSES = ['in_progress', 'completed', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type ChunkStatus = 'pending' | 'in_progress' | 'completed' | 'failed';

/** A stretch of speech with its times in seconds, from the start of its chunk or, in subtitles, of the job. */
export interface TranscriptSegment {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

export interface ChunkState {
  index: number;
  path: string;
  status: ChunkStatus;
  /** ASR attempts made so far for this chunk (0 until the first one ends). */
  attempts: number;
  /** The last attempt's error, kept while the chunk is retried and after it fails for good. */
  error: string | null;
  transcript: string | null;
  /** How long the chunk plays; subtitles shift each chunk's times by the durations of the chunks before it. */
  durationSeconds: number | null;
  /** The ASR's timed segments of a completed chunk; null when the ASR gave none. */
  segments: TranscriptSegment[] | null;
}

/** What the workflow knows of its job; returned by the state query, as its result and in its failure. */
export interface TranscriptionJobState {
  userId: string;
  chunks: ChunkState[];
  transcription: string | null;
  completedTime: string | null;
  failureReason: string | null;
}

export interface ChunkRetryPolicy {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

export interface ChunkActivityTimeouts {
  startToCloseMs: number;
  heartbeatMs: number;
}

/** A chunk the failed job a retry comes from had already transcribed: it is not sent to the ASR again. */
export interface ReusedChunk {
  index: number;
  transcript: string;
  segments: TranscriptSegment[] | null;
  durationSeconds: number | null;
  attempts: number;
}

/** The workflow's argument. Paths only: audio never travels in Temporal payloads. */
export interface TranscriptionJobInput {
  userId: string;
  audioChunkPaths: string[];
  retry: ChunkRetryPolicy;
  timeouts: ChunkActivityTimeouts;
  /** Set when the job retries a failed one (`POST /transcript/{jobId}/retry`). */
  retryOf?: { jobId: string; completedChunks: ReusedChunk[] };
  /** Where to POST the job's result when it ends, and how. */
  callback?: CallbackSettings;
  /**
   * When the API accepted the job, as it recorded it in the jobs database; the workflow records the same. Jobs
   * started before the jobs database existed have none: their start time stands in.
   */
  createdTime?: string;
}

export interface CallbackSettings {
  url: string;
  /** Deliveries run on their own task queue, so they never take one of the slots kept for ASR calls. */
  taskQueue: string;
  retry: ChunkRetryPolicy;
  timeoutMs: number;
}

/** A job as the API returns it, and as its callback receives it. */
export interface TranscriptResult {
  jobId: string;
  userId: string;
  jobStatus: JobStatus;
  chunks: ChunkState[];
  createdTime: string;
  completedTime: string | null;
  /** The stitched transcript of a completed job; null otherwise. */
  transcription: string | null;
  /** Why a failed job failed; null otherwise. */
  failureReason: string | null;
  /** The failed job this one retries (`POST /transcript/{jobId}/retry`); null otherwise. */
  retriedFrom: string | null;
}

/** One callback to deliver. The delivery id is the same on every attempt, so receivers can drop repeats. */
export interface CallbackDelivery {
  url: string;
  deliveryId: string;
  jobId: string;
  /** The TranscriptResult as JSON, made once so every attempt sends (and signs) the same bytes. */
  body: string;
}

export interface CallbackDeliveryInput {
  delivery: CallbackDelivery;
  settings: CallbackSettings;
}

export interface TranscribeChunkInput {
  jobId: string;
  /** Whose audio space the path is in: the worker resolves it there again, whatever the API checked. */
  userId: string;
  index: number;
  path: string;
}

export interface TranscribeChunkResult {
  transcript: string;
  segments: TranscriptSegment[] | null;
  durationSeconds: number;
  /** The attempt that succeeded, so the job can report how many the chunk took. */
  attempt: number;
}

/** Carried as the details of every chunk failure, so the workflow can count attempts of a failed chunk. */
export interface ChunkFailureDetails {
  attempt: number;
}

/** Failures that no retry can fix: a bad file, or an ASR answer saying the request itself is wrong. */
export const AUDIO_FILE_ERROR = 'AudioFileError';
export const ASR_REJECTED_ERROR = 'AsrRejectedError';
export const ASR_UNAVAILABLE_ERROR = 'AsrUnavailableError';
export const NON_RETRYABLE_CHUNK_ERRORS = [AUDIO_FILE_ERROR, ASR_REJECTED_ERROR];
export const CALLBACK_REJECTED_ERROR = 'CallbackRejectedError';

/** The type of the failure a job's workflow ends with when a chunk failed for good; its details hold the state. */
export const JOB_FAILED_ERROR = 'TranscriptionJobFailed';

/** The state of a job's chunks before any has been attempted. */
export function initialChunkStates(audioChunkPaths: readonly string[]): ChunkState[] {
  return audioChunkPaths.map((path, index) => ({
    index,
    path,
    status: 'pending',
    attempts: 0,
    error: null,
    transcript: null,
    durationSeconds: null,
    segments: null,
  }));
}

/** Each chunk's activity id names its index, so the server's view of a pending activity maps back to its chunk. */
export const chunkActivityId = (index: number): string => `chunk-${index}`;

export function chunkIndexOf(activityId: string | null | undefined): number | undefined {
  const match = /^chunk-(\d+)$/.exec(activityId ?? '');
  return match ? Number(match[1]) : undefined;
}

export const jobStateQuery = defineQuery<TranscriptionJobState>('jobState');

/**
 * Sent by a chunk's activity when an attempt fails: retries happen on the server, out of the workflow's sight,
 * and this is how the workflow can say in its current details which chunk is retrying and why.
 */
export interface ChunkAttemptFailure {
  index: number;
  attempt: number;
  error: string;
}
export const chunkAttemptFailedSignal = defineSignal<[ChunkAttemptFailure]>('chunkAttemptFailed');

/** A housekeeping run started by a Schedule; its activity runs on the maintenance queue, away from the ASR's slots. */
export interface MaintenanceInput {
  activityTaskQueue: string;
}

export interface ReconcileJobRecordsResult {
  /** Jobs the database calls running that were looked up in Temporal. */
  checked: number;
  /** Of those, jobs whose workflow had closed: their end is now recorded. */
  repaired: number;
}

export interface ExpireUploadsResult {
  /** Uploads past their retention, removed. */
  removed: number;
  /** Uploads past their retention, kept because their owner has a job in progress. */
  kept: number;
}
