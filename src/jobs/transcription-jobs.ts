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
import {
  decodeArrayFromPayloads,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import {
  JOB_FAILED_ERROR,
  chunkIndexOf,
  USER_ID_SEARCH_ATTRIBUTE,
  WORKFLOW_TYPE,
  jobStateQuery,
  type CallbackSettings,
  type ChunkActivityTimeouts,
  type ChunkRetryPolicy,
  type TranscriptionJobInput,
  type TranscriptionJobState,
} from '../../workflows/contract';
import type { TranscriptionWorkflow } from '../../workflows';
import { mapConcurrently } from '../map-concurrently';
import { allJobOwners } from '../temporal/running-jobs';
import { KnownRuns } from '../temporal/known-runs';
import { jobStateFromHistory } from './job-history';
import { transcriptResult } from '../../workflows/transcript-result';
import { withPendingActivities, type PendingChunkActivity, type TranscriptResult } from './transcript-result';

export class JobNotFoundError extends Error {
  constructor(readonly jobId: string) {
    super(`no job with id ${jobId}`);
    this.name = 'JobNotFoundError';
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

/** A job to start, already checked and admitted: it carries its id and the fingerprint a repeat is compared with. */
export interface StartJobRequest {
  jobId: string;
  userId: string;
  audioChunkPaths: string[];
  fingerprint: string;
  /** Set when the job retries a failed one: its transcribed chunks are kept, the rest go to the ASR again. */
  retryOf?: TranscriptionJobInput['retryOf'];
  /** Already checked against the allow-list. */
  callbackUrl?: string;
  /** When the API accepted it: the job's record and its workflow say the same. */
  createdTime: string;
}

/** What the jobs database holds of a running job: whose it is and each chunk's last recorded attempt. */
export type RecordedProgress = Pick<TranscriptResult, 'userId' | 'chunks'>;

/** A job with this id exists already. */
export class JobAlreadyStartedError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} was started already`);
    this.name = 'JobAlreadyStartedError';
  }
}

/** A user has few jobs running at once (MAX_JOBS_IN_FLIGHT_PER_USER), so a page of them is described at once. */
const DESCRIBE_CONCURRENCY = 16;
/** As long as `/healthz` waits for its check (src/api/app.ts). */
const HEALTH_CHECK_DEADLINE_MS = 3000;
const GRPC_NOT_FOUND = 5;
/** Far more jobs than run at once across the fleet (about 170 at the required peak), at a few hundred bytes each. */
const KNOWN_RUNS = 10_000;
const PendingActivityState = temporal.api.enums.v1.PendingActivityState;

/**
 * Transcription jobs, kept by Temporal: one `TranscriptionWorkflow` per job, whose workflow id is the job id.
 * The jobs store is the workflow's history and the secondary index by user is Temporal visibility.
 */
export class TranscriptionJobs {
  private readonly runs = new KnownRuns(KNOWN_RUNS);

  constructor(
    private readonly client: Client,
    private readonly options: TranscriptionJobsOptions,
  ) {}

  /** Starts a job's workflow under the job's id; {@link JobAlreadyStartedError} if that id was used already. */
  async start(request: StartJobRequest): Promise<void> {
    const input: TranscriptionJobInput = {
      userId: request.userId,
      audioChunkPaths: request.audioChunkPaths,
      retry: this.options.retry,
      timeouts: this.options.timeouts,
      ...(request.retryOf ? { retryOf: request.retryOf } : {}),
      ...(request.callbackUrl ? { callback: { ...this.options.callbacks, url: request.callbackUrl } } : {}),
      createdTime: request.createdTime,
    };
    const count = request.audioChunkPaths.length;
    const toTranscribe = count - (request.retryOf?.completedChunks.length ?? 0);
    try {
      const handle = await this.client.workflow.start<typeof TranscriptionWorkflow>(WORKFLOW_TYPE, {
        workflowId: request.jobId,
        taskQueue: this.options.taskQueue,
        args: [input],
        typedSearchAttributes: [{ key: USER_ID_SEARCH_ATTRIBUTE, value: request.userId }],
        memo: { requestFingerprint: request.fingerprint },
        staticSummary: request.retryOf
          ? `Retry of ${request.retryOf.jobId} for ${request.userId}: ${toTranscribe} of ${count} chunks to transcribe again`
          : `Transcription for ${request.userId}: ${count} chunk${count === 1 ? '' : 's'}`,
        staticDetails: request.audioChunkPaths.map((path, index) => `${index}. \`${path}\``).join('\n'),
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      this.runs.remember(request.jobId, handle.firstExecutionRunId);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new JobAlreadyStartedError(request.jobId);
      throw err;
    }
  }

  /** The fingerprint of the request that started a job, or undefined when there is no such job. */
  async startedWith(jobId: string): Promise<string | undefined> {
    try {
      const existing = await this.client.workflow.getHandle(jobId).describe();
      const fingerprint = existing.memo?.requestFingerprint;
      return typeof fingerprint === 'string' ? fingerprint : '';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The job as it is now. Finished jobs are read from their execution's outcome, so no worker is needed. A running
   * job's chunks are `recorded` (the jobs database's progress) with the server's pending activities on top, so no
   * worker is asked either; without them, its workflow is queried (its history read if no worker answers).
   */
  async get(jobId: string, recorded?: RecordedProgress): Promise<TranscriptResult> {
    let description: WorkflowExecutionDescription;
    try {
      description = await this.describeCurrent(jobId);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(jobId);
      throw err;
    }
    if (description.type !== WORKFLOW_TYPE) throw new JobNotFoundError(jobId);
    const handle = this.client.workflow.getHandle<typeof TranscriptionWorkflow>(jobId, description.runId);
    const record = {
      jobId,
      createdTime: description.startTime.toISOString(),
      completedTime: description.closeTime?.toISOString() ?? null,
      transcription: null,
      failureReason: null,
    };

    if (description.status.name === 'RUNNING') {
      const state = recorded ?? (await this.liveState(handle)) ?? (await this.stateFromHistory(handle));
      const chunks = withPendingActivities(state.chunks, await this.pendingChunkActivities(description));
      return transcriptResult({ ...record, userId: state.userId, chunks, jobStatus: 'in_progress' });
    }
    if (description.status.name === 'COMPLETED') {
      const state = await handle.result();
      return transcriptResult({ ...record, ...state, jobStatus: 'completed' });
    }

    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : undefined),
    );
    if (failure instanceof ApplicationFailure && failure.type === JOB_FAILED_ERROR) {
      const [state] = (failure.details ?? []) as TranscriptionJobState[];
      if (state) {
        const completedTime = state.completedTime ?? record.completedTime;
        return transcriptResult({ ...record, ...state, completedTime, jobStatus: 'failed' });
      }
    }
    // Terminated, cancelled or timed out from outside (e.g. by an operator in the Web UI): no state of the
    // workflow's own survives, so rebuild the chunks from the history.
    const reason = `job ${description.status.name.toLowerCase().replace('_', ' ')}${failure?.message ? `: ${failure.message}` : ''}`;
    const state = await this.stateFromHistory(handle, reason);
    return transcriptResult({ ...record, ...state, jobStatus: 'failed', failureReason: reason });
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

  /**
   * Which of these jobs' workflows have closed (or no longer exist), from the server's own state (a describe each,
   * never a worker): what a search of running jobs checks before it trusts the jobs database, since a job
   * terminated from outside records no end of its own. Visibility would be one call, but it lags the executions.
   */
  async closedAmong(jobIds: readonly string[]): Promise<Set<string>> {
    const closed = await mapConcurrently([...jobIds], DESCRIBE_CONCURRENCY, async (jobId) => {
      try {
        const description = await this.describeCurrent(jobId);
        return description.status.name === 'RUNNING' ? undefined : jobId;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return jobId;
        throw err;
      }
    });
    return new Set(closed.filter((jobId): jobId is string => jobId !== undefined));
  }

  /** Every job Temporal still holds, running or ended, as far back as its retention: for the backfill. */
  async *allJobIds(): AsyncGenerator<string> {
    for await (const { jobId } of allJobOwners(this.client)) yield jobId;
  }

  /** How many jobs Temporal holds. */
  async countJobs(): Promise<number> {
    return (await this.client.workflow.count(`WorkflowType = '${WORKFLOW_TYPE}'`)).count;
  }

  /** Deletes a finished job's workflow and its history from Temporal; nothing happens if it is gone already. */
  async deleteExecution(jobId: string): Promise<void> {
    try {
      await this.client.workflowService.deleteWorkflowExecution({
        namespace: this.client.options.namespace,
        workflowExecution: { workflowId: jobId },
      });
    } catch (err) {
      if (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND) return;
      throw err;
    }
  }

  /** Resolves once Temporal answers. */
  async checkHealth(): Promise<void> {
    // Under a deadline, so a check of a Temporal that is down ends instead of retrying on in the background after
    // /healthz has called it down (and past the connection's close, where a pending retry throws).
    await this.client.withDeadline(Date.now() + HEALTH_CHECK_DEADLINE_MS, () =>
      this.client.workflowService.getSystemInfo({}),
    );
  }

  /**
   * The job's current run, described by its run id when this process knows it. A known run found closed is checked
   * again by the job id alone, since a reset carries the job on in a new run; a closed job's run id is then forgotten.
   */
  private async describeCurrent(jobId: string): Promise<WorkflowExecutionDescription> {
    const known = this.runs.get(jobId);
    if (known !== undefined) {
      const description = await this.client.workflow.getHandle(jobId, known).describe();
      if (description.status.name === 'RUNNING') return description;
    }
    const description = await this.client.workflow.getHandle(jobId).describe();
    if (description.status.name === 'RUNNING') this.runs.remember(jobId, description.runId);
    else this.runs.forget(jobId);
    return description;
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
      {
        payloads: async (payloads) => (await decodeArrayFromPayloads(converter, payloads))[0],
        failure: (failure) => decodeOptionalFailureToOptionalError(converter, failure),
      },
      unfinishedReason,
    );
  }

  /** The chunks Temporal is running or retrying, each with its last failure's message decrypted. */
  private async pendingChunkActivities(description: WorkflowExecutionDescription): Promise<PendingChunkActivity[]> {
    const converter = this.client.options.loadedDataConverter;
    const pending = await Promise.all(
      (description.raw.pendingActivities ?? []).map(async (activity) => {
        const index = chunkIndexOf(activity.activityId);
        if (index === undefined) return [];
        const lastFailure = await decodeOptionalFailureToOptionalError(converter, activity.lastFailure);
        return [
          {
            index,
            started:
              activity.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ||
              activity.state === PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED,
            attempt: activity.attempt ?? 1,
            lastFailure: lastFailure?.message || null,
          },
        ];
      }),
    );
    return pending.flat();
  }
}
