import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import {
  JOB_FAILED_ERROR,
  chunkIndexOf,
  USER_ID_SEARCH_ATTRIBUTE,
  WORKFLOW_TYPE,
  jobStateQuery,
  type CallbackSettings,
  type ChunkActivityTimeouts,
  type ChunkRetryPolicy,
  type JobStatus,
  type TranscriptionJobInput,
  type TranscriptionJobState,
} from '../../workflows/contract';
import type { TranscriptionWorkflow } from '../../workflows';
import { mapConcurrently } from '../map-concurrently';
import { jobStateFromHistory } from './job-history';
import {
  withPendingActivities,
  withTimings,
  type PendingChunkActivity,
  type TranscriptResult,
} from './transcript-result';

export class JobNotFoundError extends Error {
  constructor(readonly jobId: string) {
    super(`no job with id ${jobId}`);
    this.name = 'JobNotFoundError';
  }
}

/** The same `Idempotency-Key` came back with a different request. */
export class IdempotencyConflictError extends Error {
  constructor(readonly jobId: string) {
    super('this Idempotency-Key was already used with a different request');
    this.name = 'IdempotencyConflictError';
  }
}

export class InvalidPageTokenError extends Error {
  constructor() {
    super('pageToken is not one this service returned');
    this.name = 'InvalidPageTokenError';
  }
}

export interface TranscriptionJobsOptions {
  taskQueue: string;
  retry: ChunkRetryPolicy;
  timeouts: ChunkActivityTimeouts;
  /** How long to wait for a running workflow to answer its state query before reading its history instead. */
  queryTimeoutMs: number;
  /** How callbacks are delivered; each job's URL comes with its submission. */
  callbacks: Omit<CallbackSettings, 'url'>;
}

export interface SubmitJobRequest {
  userId: string;
  audioChunkPaths: string[];
  idempotencyKey?: string;
  beforeStart?: () => Promise<void>;
  /** Set when the job retries a failed one: its transcribed chunks are kept, the rest go to the ASR again. */
  retryOf?: TranscriptionJobInput['retryOf'];
  /** Already checked against the allow-list. */
  callbackUrl?: string;
}

export interface SearchJobsRequest {
  userId: string;
  jobStatus: JobStatus;
  limit: number;
  pageToken?: string;
}

/** Execution statuses behind each job status. A job's status is always derived from its workflow execution. */
const EXECUTION_STATUSES: Record<JobStatus, string[]> = {
  in_progress: ['Running'],
  completed: ['Completed'],
  failed: ['Failed', 'Terminated', 'Canceled', 'TimedOut'],
};

const SEARCH_CONCURRENCY = 8;
const GRPC_INVALID_ARGUMENT = 3;
const PendingActivityState = temporal.api.enums.v1.PendingActivityState;

/**
 * Transcription jobs, kept by Temporal: one `TranscriptionWorkflow` per job, whose workflow id is the job id.
 * The jobs store is the workflow's history and the secondary index by user is Temporal visibility.
 */
export class TranscriptionJobs {
  constructor(
    private readonly client: Client,
    private readonly options: TranscriptionJobsOptions,
  ) {}

  /**
   * Starts a job. With an idempotency key, a repeat of the same request returns the job it started.
   * `beforeStart` runs only when a new job is about to start, and may refuse it by throwing.
   */
  async submit(request: SubmitJobRequest): Promise<{ jobId: string; replayed: boolean }> {
    const fingerprint = sha256(
      JSON.stringify([
        request.userId,
        request.audioChunkPaths,
        request.retryOf?.jobId ?? null,
        request.callbackUrl ?? null,
      ]),
    );
    const jobId = request.idempotencyKey
      ? `job-${sha256(`${request.userId}\n${request.idempotencyKey}`).slice(0, 32)}`
      : `job-${ulid().toLowerCase()}`;
    if (request.idempotencyKey) {
      const replayed = await this.replay(jobId, fingerprint);
      if (replayed) return replayed;
    }
    await request.beforeStart?.();
    const input: TranscriptionJobInput = {
      userId: request.userId,
      audioChunkPaths: request.audioChunkPaths,
      retry: this.options.retry,
      timeouts: this.options.timeouts,
      ...(request.retryOf ? { retryOf: request.retryOf } : {}),
      ...(request.callbackUrl ? { callback: { ...this.options.callbacks, url: request.callbackUrl } } : {}),
    };
    const count = request.audioChunkPaths.length;
    const toTranscribe = count - (request.retryOf?.completedChunks.length ?? 0);
    try {
      await this.client.workflow.start<typeof TranscriptionWorkflow>(WORKFLOW_TYPE, {
        workflowId: jobId,
        taskQueue: this.options.taskQueue,
        args: [input],
        typedSearchAttributes: [{ key: USER_ID_SEARCH_ATTRIBUTE, value: request.userId }],
        memo: { requestFingerprint: fingerprint },
        staticSummary: request.retryOf
          ? `Retry of ${request.retryOf.jobId} for ${request.userId}: ${toTranscribe} of ${count} chunks to transcribe again`
          : `Transcription for ${request.userId}: ${count} chunk${count === 1 ? '' : 's'}`,
        staticDetails: request.audioChunkPaths.map((path, index) => `${index}. \`${path}\``).join('\n'),
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return { jobId, replayed: false };
    } catch (err) {
      // Two identical requests raced past the replay check: the loser answers with the winner's job.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !request.idempotencyKey) throw err;
      const replayed = await this.replay(jobId, fingerprint);
      if (!replayed) throw err;
      return replayed;
    }
  }

  /** The job an idempotency key already started, if any; a different request under the same key is a conflict. */
  private async replay(jobId: string, fingerprint: string): Promise<{ jobId: string; replayed: true } | undefined> {
    let existing: WorkflowExecutionDescription;
    try {
      existing = await this.client.workflow.getHandle(jobId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    if (existing.memo?.requestFingerprint !== fingerprint) throw new IdempotencyConflictError(jobId);
    return { jobId, replayed: true };
  }

  /** The job as it is now. Finished jobs are read from their execution's outcome, so no worker is needed. */
  async get(jobId: string): Promise<TranscriptResult> {
    let description: WorkflowExecutionDescription;
    try {
      description = await this.client.workflow.getHandle(jobId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(jobId);
      throw err;
    }
    if (description.type !== WORKFLOW_TYPE) throw new JobNotFoundError(jobId);
    const handle = this.client.workflow.getHandle<typeof TranscriptionWorkflow>(jobId, description.runId);
    const times = {
      jobId,
      createdTime: description.startTime.toISOString(),
      completedTime: description.closeTime?.toISOString() ?? null,
    };

    if (description.status.name === 'RUNNING') {
      const state = (await this.liveState(handle)) ?? (await this.stateFromHistory(handle));
      return {
        ...times,
        userId: state.userId,
        jobStatus: 'in_progress',
        chunks: withPendingActivities(withTimings(state.chunks), pendingChunkActivities(description)),
        completedTime: null,
        transcription: null,
        failureReason: null,
      };
    }
    if (description.status.name === 'COMPLETED') {
      const state = await handle.result();
      return { ...times, ...state, chunks: withTimings(state.chunks), jobStatus: 'completed', failureReason: null };
    }

    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : undefined),
    );
    if (failure instanceof ApplicationFailure && failure.type === JOB_FAILED_ERROR) {
      const [state] = (failure.details ?? []) as TranscriptionJobState[];
      if (state)
        return {
          ...times,
          ...state,
          chunks: withTimings(state.chunks),
          completedTime: state.completedTime ?? times.completedTime,
          jobStatus: 'failed',
        };
    }
    // Terminated, cancelled or timed out from outside (e.g. by an operator in the Web UI): no state of the
    // workflow's own survives, so rebuild the chunks from the history.
    const reason = `job ${description.status.name.toLowerCase().replace('_', ' ')}${failure?.message ? `: ${failure.message}` : ''}`;
    const state = await this.stateFromHistory(handle, reason);
    return { ...times, ...state, jobStatus: 'failed', transcription: null, failureReason: reason };
  }

  /** Asks the job to stop: its workflow cancels its chunk activities, which abort their ASR calls. */
  async cancel(jobId: string): Promise<void> {
    await this.client.workflow.getHandle(jobId).cancel();
  }

  /** Resolves when the job has finished, or after `ms`, whichever comes first. */
  async waitForEnd(jobId: string, ms: number): Promise<void> {
    const handle = this.client.workflow.getHandle(jobId);
    // result() long-polls the history for the close event; how the job ended is read afterwards by get().
    await this.client.withAbortSignal(AbortSignal.timeout(ms), () => handle.result()).catch(() => undefined);
  }

  /** A user's jobs in one status; finished jobs newest first, then by start time. */
  async search(request: SearchJobsRequest): Promise<{ results: TranscriptResult[]; nextPageToken: string | null }> {
    const statuses = EXECUTION_STATUSES[request.jobStatus].map((status) => `ExecutionStatus = '${status}'`);
    const query = [
      `WorkflowType = '${WORKFLOW_TYPE}'`,
      `${USER_ID_SEARCH_ATTRIBUTE.name} = '${quoteFree(request.userId)}'`,
      `(${statuses.join(' OR ')})`,
    ].join(' AND ');
    let response: temporal.api.workflowservice.v1.ListWorkflowExecutionsResponse;
    try {
      response = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query,
        pageSize: request.limit,
        nextPageToken: request.pageToken === undefined ? undefined : openPageToken(query, request.pageToken),
      });
    } catch (err) {
      if (request.pageToken && isGrpcServiceError(err) && Number(err.code) === GRPC_INVALID_ARGUMENT) {
        throw new InvalidPageTokenError();
      }
      throw err;
    }
    const jobIds = response.executions.map((execution) => execution.execution?.workflowId ?? '');
    const jobs = await mapConcurrently(jobIds, SEARCH_CONCURRENCY, (jobId) =>
      this.get(jobId).catch((err: unknown) => {
        if (err instanceof JobNotFoundError) return undefined;
        throw err;
      }),
    );
    // Visibility lags the executions a little: a job that has moved on since belongs to another status's list.
    const results = jobs.filter((job): job is TranscriptResult => job?.jobStatus === request.jobStatus);
    const token = response.nextPageToken;
    return { results, nextPageToken: token && token.length > 0 ? sealPageToken(query, token) : null };
  }

  /** Jobs in progress by user, as visibility knows them (a moment behind the executions). */
  async jobsInFlightByUser(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const running = this.client.workflow.list({
      query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`,
      pageSize: 1000,
    });
    for await (const execution of running) {
      const userId = execution.typedSearchAttributes.get(USER_ID_SEARCH_ATTRIBUTE);
      if (userId !== undefined) counts.set(userId, (counts.get(userId) ?? 0) + 1);
    }
    return counts;
  }

  /** Chunks scheduled on the task queue that no worker has picked up yet: the ASR's waiting line. */
  async chunkBacklog(): Promise<number> {
    const response = await this.client.workflowService.describeTaskQueue({
      namespace: this.client.options.namespace,
      taskQueue: { name: this.options.taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      reportStats: true,
    });
    return Number(response.stats?.approximateBacklogCount ?? 0);
  }

  /** Resolves once Temporal answers. */
  async checkHealth(): Promise<void> {
    await this.client.workflowService.getSystemInfo({});
  }

  private async liveState(
    handle: WorkflowHandle<typeof TranscriptionWorkflow>,
  ): Promise<TranscriptionJobState | undefined> {
    try {
      return await this.client.withDeadline(Date.now() + this.options.queryTimeoutMs, () =>
        handle.query(jobStateQuery),
      );
    } catch {
      // No worker to answer (or it is busy): the history still tells what has finished.
      return undefined;
    }
  }

  private async stateFromHistory(handle: WorkflowHandle, unfinishedReason?: string) {
    const history = await handle.fetchHistory();
    const converter = this.client.options.loadedDataConverter;
    return jobStateFromHistory(
      history.events ?? [],
      async (payloads) => (await decodeArrayFromPayloads(converter, payloads))[0],
      unfinishedReason,
    );
  }
}

function pendingChunkActivities(description: WorkflowExecutionDescription): PendingChunkActivity[] {
  return (description.raw.pendingActivities ?? []).flatMap((activity) => {
    const index = chunkIndexOf(activity.activityId);
    if (index === undefined) return [];
    return [
      {
        index,
        started:
          activity.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ||
          activity.state === PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED,
        attempt: activity.attempt ?? 1,
        lastFailure: activity.lastFailure?.message || null,
      },
    ];
  });
}

/**
 * Page tokens are Temporal's, sealed with a digest of the query they belong to: a token that was altered, or
 * made for another user or status, is refused here (the dev server stalls on a garbled token rather than refusing it).
 */
function sealPageToken(query: string, token: Uint8Array): string {
  return `${Buffer.from(token).toString('base64url')}.${pageTokenSeal(query, token)}`;
}

function openPageToken(query: string, sealed: string): Buffer {
  const [encoded = '', seal] = sealed.split('.');
  const token = Buffer.from(encoded, 'base64url');
  if (token.length === 0 || seal !== pageTokenSeal(query, token)) throw new InvalidPageTokenError();
  return token;
}

function pageTokenSeal(query: string, token: Uint8Array): string {
  return createHash('sha256').update(query).update('\n').update(token).digest('base64url').slice(0, 22);
}

/** User ids are validated long before here; this is the last guard between one and a visibility query. */
function quoteFree(userId: string): string {
  if (/['"\\]/.test(userId)) throw new Error('userId must be validated before it reaches a visibility query');
  return userId;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
