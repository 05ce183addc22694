import { z } from 'zod';
import { JOB_STATUSES, type ChunkState, type TranscriptResult } from '../../workflows/contract';
import type { AudioFileDetails, AudioFileInfo, UploadedAudio } from '../storage/audio-store';

/**
 * The shapes of the API's answers. They feed `/openapi.json` next to the request schemas, and the API tests parse
 * real answers with them, so the document describes what the service does rather than what it meant to do.
 */
export const chunkStateSchema = z.strictObject({
  index: z.number().int().min(0).meta({ description: "The chunk's position in `audioChunkPaths`." }),
  path: z.string(),
  status: z.enum(['pending', 'in_progress', 'completed', 'failed']),
  attempts: z.number().int().min(0).meta({ description: 'ASR attempts started so far.' }),
  error: z.string().nullable().meta({ description: "The last attempt's error, while retrying and after failing." }),
  transcript: z.string().nullable(),
  durationSeconds: z.number().min(0).nullable().meta({ description: 'How long the chunk plays, once transcribed.' }),
  segments: z
    .array(
      z.strictObject({
        startSeconds: z.number().min(0),
        endSeconds: z.number().min(0),
        text: z.string(),
      }),
    )
    .nullable()
    .meta({ description: "The ASR's timed segments, in seconds from the chunk's start; null when it gave none." }),
});

export const transcriptResultSchema = z.strictObject({
  jobId: z.string(),
  userId: z.string(),
  jobStatus: z.enum(JOB_STATUSES),
  chunks: z.array(chunkStateSchema),
  createdTime: z.iso.datetime(),
  completedTime: z.iso.datetime().nullable(),
  transcription: z.string().nullable().meta({ description: 'The stitched transcript of a completed job.' }),
  failureReason: z.string().nullable(),
  retriedFrom: z.string().nullable().meta({ description: 'The failed job this one retries; null otherwise.' }),
});

export const submitJobResponseSchema = z.strictObject({ jobId: z.string() });

export const retryJobResponseSchema = z.strictObject({
  jobId: z.string().meta({ description: 'The new job.' }),
  retriedFrom: z.string().meta({ description: 'The failed job it retries.' }),
  reusedChunks: z.number().int().min(0).meta({ description: 'Chunks carried over, not sent to the ASR again.' }),
});

export const searchJobsResponseSchema = z.strictObject({
  results: z.array(transcriptResultSchema),
  nextPageToken: z.string().nullable().meta({ description: 'Pass as `pageToken` for the next page; null at the end.' }),
});

export const errorResponseSchema = z.strictObject({
  error: z.strictObject({
    code: z.string().meta({ description: 'Stable, machine-readable.', example: 'invalid_request' }),
    message: z.string(),
    details: z.union([
      z.array(z.strictObject({ field: z.string(), message: z.string() })),
      z.record(z.string(), z.unknown()),
      z.null(),
    ]),
  }),
});

export const healthResponseSchema = z.strictObject({
  status: z.literal('ok'),
  temporal: z.literal('ok').meta({ description: 'Temporal answers.' }),
  jobsDatabase: z.literal('ok').meta({ description: 'The jobs database answers.' }),
});

export const uploadedAudioSchema = z.strictObject({
  path: z.string().meta({ description: 'Where the file is in your audio space: put it in `audioChunkPaths`.' }),
  bytes: z.number().int().min(0),
  format: z.enum(['wav', 'flac', 'mp3', 'ogg', 'm4a']),
  durationSeconds: z.number().min(0),
  expiresTime: z.iso.datetime().meta({ description: 'When the upload is removed (AUDIO_UPLOAD_RETENTION_HOURS).' }),
});

export const audioFileSchema = z.strictObject({
  path: z.string(),
  bytes: z.number().int().min(0),
  modifiedTime: z.iso.datetime(),
  expiresTime: z.iso.datetime().nullable().meta({ description: 'When an upload is removed; null for other files.' }),
});

export const audioFileDetailsSchema = audioFileSchema.extend({
  format: z.enum(['wav', 'flac', 'mp3', 'ogg', 'm4a']),
  codec: z.string(),
  durationSeconds: z.number().min(0),
});

export const audioListSchema = z.strictObject({
  files: z.array(audioFileSchema),
  nextPageToken: z.string().nullable().meta({ description: 'Pass as `pageToken` for the next page; null at the end.' }),
});

export const presignedUploadSchema = z.strictObject({
  path: z.string().meta({ description: 'Where the file will be in your audio space once uploaded.' }),
  uploadUrl: z.string().meta({ description: 'PUT the file here, with exactly the headers given.' }),
  method: z.literal('PUT'),
  headers: z.record(z.string(), z.string()),
  expiresTime: z.iso.datetime().meta({ description: 'The URL is refused after this.' }),
});

/** Compiles only when A and B are the same type: each schema describes exactly the contract's type, both ways. */
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function sameShape<A, B>(..._proof: Exactly<A, B> extends true ? [] : [never]): void {}
sameShape<z.output<typeof chunkStateSchema>, ChunkState>();
sameShape<z.output<typeof transcriptResultSchema>, TranscriptResult>();
sameShape<z.output<typeof uploadedAudioSchema>, UploadedAudio>();
sameShape<z.output<typeof audioFileSchema>, AudioFileInfo>();
sameShape<z.output<typeof audioFileDetailsSchema>, AudioFileDetails>();
