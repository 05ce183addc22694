import { CallbackRejectedError, CallbackUnavailableError } from '../../src/callbacks/callback-sender';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  Runtime,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createActivities, type ActivityDependencies } from '../../activities';
import { AsrCallSlots } from '../../src/asr/asr-call-slots';
import type { JobsDatabase } from '../../src/jobs-database/jobs-database';
import { FAILURE_CONVERTER_PATH, serviceDataConverter } from '../../src/codec/data-converter';
import { sqliteTestDatabase, testCodec, type TestJobsDatabase } from '../support/jobs-databases';
import { AsrRejectedError, AsrUnavailableError } from '../../src/asr/asr-errors';
import { localAudioStore } from '../support/audio-stores';
import type { TranscriptionWorkflow } from '../../workflows';
import {
  JOB_FAILED_ERROR,
  WORKFLOW_TYPE,
  jobStateQuery,
  type TranscriptionJobInput,
  type TranscriptionJobState,
} from '../../workflows/contract';
import { RecordingCallbacks } from '../support/recording-callbacks';
import { ScriptedTranscriber, textOnly } from '../support/scripted-transcriber';
import { testServerExecutable } from '../support/temporal-binaries';
import { tempDir, writeChunk } from '../support/temp-dir';

describe('TranscriptionWorkflow (time-skipping)', () => {
  // As in the service: payloads encrypted, failure messages too, so the workflow is tested reading them that way.
  const dataConverter = serviceDataConverter(testCodec());
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let audioRoot: string;
  let testNumber = 0;
  let jobsDb: TestJobsDatabase;
  let database: JobsDatabase;
  /** The jobs database the next job's activities write to. */
  let records: ActivityDependencies['records'];

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: testServerExecutable() },
      client: { dataConverter },
    });
    bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: new DefaultLogger('WARN'),
    });
    audioRoot = path.join(await tempDir('workflow'), 'audio');
    // The jobs are alice's: her space holds their files; bob's holds one file of his own.
    const space = path.join(audioRoot, 'alice');
    await mkdir(space, { recursive: true });
    for (let index = 0; index < 24; index += 1) await writeChunk(space, `c${index}.wav`);
    await writeChunk(space, 'too-big.wav', { bytes: 4096 });
    await writeChunk(path.join(audioRoot, 'bob'), 'bobs.wav');
    jobsDb = await sqliteTestDatabase();
    database = (await jobsDb.open()).database;
  });

  beforeEach(() => {
    records = database;
  });

  afterAll(async () => {
    await env?.teardown();
    await database?.close();
    await jobsDb?.cleanup();
  });

  const input = (paths: string[]): TranscriptionJobInput => ({
    userId: 'alice',
    audioChunkPaths: paths,
    retry: { maximumAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 30_000 },
    timeouts: { startToCloseMs: 30_000, heartbeatMs: 10_000 },
  });

  /** Runs one job on a fresh worker whose ASR is the given scripted test double. */
  async function runJob<T>(
    transcriber: ScriptedTranscriber,
    paths: string[],
    body: (jobId: string) => Promise<T>,
    extra: Partial<TranscriptionJobInput> = {},
    callbacks: RecordingCallbacks = new RecordingCallbacks(clock),
  ): Promise<T> {
    testNumber += 1;
    const taskQueue = `workflow-test-${testNumber}`;
    const jobId = `job-test-${testNumber}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      dataConverter,
      activities: createActivities({
        asr: transcriber,
        asrCalls: new AsrCallSlots({ perWorker: 1000, fleet: 1000 }),
        audio: localAudioStore(audioRoot, { maxChunkBytes: 2048 }),
        callbacks,
        records,
        temporalJobs: () => {
          throw new Error('job records are not reconciled in these tests');
        },
        recordRetentionDays: 400,
      }),
    });
    return worker.runUntil(async () => {
      await env.client.workflow.start<typeof TranscriptionWorkflow>(WORKFLOW_TYPE, {
        taskQueue,
        workflowId: jobId,
        args: [{ ...input(paths), ...extra }],
      });
      return body(jobId);
    });
  }

  const clock = () => env.currentTimeMs();
  const result = (jobId: string) => env.client.workflow.getHandle<typeof TranscriptionWorkflow>(jobId).result();

  async function failedState(jobId: string): Promise<TranscriptionJobState> {
    const error = await result(jobId).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(JOB_FAILED_ERROR);
    return (cause as ApplicationFailure).details?.[0] as TranscriptionJobState;
  }

  it('when chunks finish out of order, then the transcript is still stitched in chunk order', async () => {
    const asr = new ScriptedTranscriber(clock)
      .script('c0.wav', { text: 'one', delayMs: 600 })
      .script('c1.wav', { text: 'two', delayMs: 300 })
      .script('c2.wav', { text: 'three' });
    const state = await runJob(asr, ['c0.wav', 'c1.wav', 'c2.wav'], result);
    expect(asr.attempts.map((attempt) => attempt.name)).toHaveLength(3);
    expect(state.transcription).toBe('one two three');
    expect(state.chunks.map((chunk) => [chunk.status, chunk.transcript, chunk.attempts])).toEqual([
      ['completed', 'one', 1],
      ['completed', 'two', 1],
      ['completed', 'three', 1],
    ]);
    expect(state.completedTime).not.toBeNull();
  });

  it('when a chunk always fails, then it is attempted exactly 3 times, 1 s then 2 s apart, and fails the job after the others complete', async () => {
    const unavailable = () => ({ error: new AsrUnavailableError('ASR answered 503: busy', { status: 503 }) });
    const asr = new ScriptedTranscriber(clock).script(
      'c1.wav',
      unavailable(),
      unavailable(),
      unavailable(),
      unavailable(),
    );
    const state = await runJob(asr, ['c0.wav', 'c1.wav', 'c2.wav'], failedState);

    const attempts = asr.attemptsFor('c1.wav');
    expect(attempts.map((attempt) => attempt.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = attempts.map((attempt) => attempt.startedAtMs);
    expect(second! - first!).toBeGreaterThanOrEqual(1000);
    expect(second! - first!).toBeLessThan(1900);
    expect(third! - second!).toBeGreaterThanOrEqual(2000);
    expect(third! - second!).toBeLessThan(2900);

    expect(state.chunks.map((chunk) => chunk.status)).toEqual(['completed', 'failed', 'completed']);
    expect(state.chunks[1]).toMatchObject({ attempts: 3, error: 'ASR answered 503: busy', transcript: null });
    expect(state.chunks[0]?.transcript).toBe('text of c0.wav');
    expect(state.transcription).toBeNull();
    expect(state.failureReason).toContain('chunk 2 (c1.wav): ASR answered 503: busy');
  });

  it('when the ASR rejects a chunk (a 4xx), then it is attempted once and fails the job', async () => {
    const asr = new ScriptedTranscriber(clock).script('c0.wav', {
      error: new AsrRejectedError('ASR answered 400', 400),
    });
    const state = await runJob(asr, ['c0.wav', 'c1.wav'], failedState);
    expect(asr.attemptsFor('c0.wav')).toHaveLength(1);
    expect(state.chunks[0]).toMatchObject({ status: 'failed', attempts: 1, error: 'ASR answered 400' });
    expect(state.chunks[1]?.status).toBe('completed');
  });

  it('when a chunk file is missing or too large, then it is not retried and the ASR is never called for it', async () => {
    const asr = new ScriptedTranscriber(clock);
    const state = await runJob(asr, ['missing.wav', 'too-big.wav', 'c0.wav'], failedState);
    expect(asr.attempts.map((attempt) => attempt.name)).toEqual(['c0.wav']);
    expect(state.chunks[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'missing.wav: no such audio file in your audio space',
    });
    expect(state.chunks[1]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(state.chunks[1]?.error).toMatch(/over the limit of 2048/);
  });

  it("when a job's history names another user's file, then the worker refuses it in the owner's space, without the ASR", async () => {
    const asr = new ScriptedTranscriber(clock);
    // A forged or replayed job: alice's job naming a path that exists only in bob's space.
    const state = await runJob(asr, ['bobs.wav', 'c0.wav'], failedState);
    expect(asr.attemptsFor('bobs.wav')).toEqual([]);
    expect(state.chunks[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'bobs.wav: no such audio file in your audio space',
    });
  });

  it('when the ASR fails once and then answers, then the chunk completes on its second attempt', async () => {
    const asr = new ScriptedTranscriber(clock).script(
      'c0.wav',
      { error: new AsrUnavailableError('ASR unreachable: ECONNREFUSED') },
      { text: 'recovered' },
    );
    const state = await runJob(asr, ['c0.wav'], result);
    expect(state.chunks[0]).toMatchObject({ status: 'completed', attempts: 2, transcript: 'recovered' });
    expect(state.transcription).toBe('recovered');
  });

  it("when the ASR gives timed segments, then each chunk keeps them with its length, measured by the ASR or else read from the file's header", async () => {
    const segments = [{ startSeconds: 0.2, endSeconds: 0.9, text: 'timed' }];
    const asr = new ScriptedTranscriber(clock).script('c0.wav', { text: 'timed', segments, durationSeconds: 1.25 });
    const state = await runJob(asr, ['c0.wav', 'c1.wav'], result);
    expect(state.chunks[0]).toMatchObject({ segments, durationSeconds: 1.25 });
    // The scripted ASR gives c1.wav text alone; the file is a 0.1 s WAV.
    expect(state.chunks[1]).toMatchObject({ segments: null, durationSeconds: 0.1 });
  });

  it('when a job retries a failed one, then the chunks it carries over are not sent to the ASR and keep their text', async () => {
    const asr = new ScriptedTranscriber(clock);
    const carried = { index: 0, transcript: 'kept', segments: null, durationSeconds: 2, attempts: 1 };
    const state = await runJob(asr, ['c0.wav', 'c1.wav'], result, {
      retryOf: { jobId: 'job-failed-before', completedChunks: [carried] },
    });
    expect(asr.attempts.map((attempt) => attempt.name)).toEqual(['c1.wav']);
    expect(state.chunks[0]).toMatchObject({ status: 'completed', transcript: 'kept', durationSeconds: 2, attempts: 1 });
    expect(state.transcription).toBe('kept text of c1.wav');
  });

  describe('completion callbacks', () => {
    const callbackInput = (taskQueue: string): Partial<TranscriptionJobInput> => ({
      callback: {
        url: 'https://hooks.example.com/done',
        taskQueue,
        timeoutMs: 10_000,
        retry: { maximumAttempts: 5, initialIntervalMs: 5000, backoffCoefficient: 2, maximumIntervalMs: 300_000 },
      },
    });

    it('when the receiver fails twice, then the result is delivered on the third attempt, 5 s then 10 s apart, with one delivery id, and the job does not wait for it', async () => {
      const callbacks = new RecordingCallbacks(clock, [
        new CallbackUnavailableError('answered 503'),
        new CallbackUnavailableError('unreachable: ECONNREFUSED'),
      ]);
      const jobId = `job-test-${testNumber + 1}`;
      const { job, delivered } = await runJob(
        new ScriptedTranscriber(clock),
        ['c0.wav'],
        async (id) => {
          const job = await result(id);
          const jobEnded = await clock();
          await env.client.workflow.getHandle(`${id}-callback`).result();
          return { job, delivered: jobEnded };
        },
        callbackInput(`workflow-test-${testNumber + 1}`),
        callbacks,
      );
      expect(job.transcription).toBe('text of c0.wav');
      const times = callbacks.attempts.map((attempt) => attempt.atMs);
      expect(times).toHaveLength(3);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(5000);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(10_000);
      // The job ended before its callback was first attempted successfully.
      expect(delivered).toBeLessThan(times[2]!);
      const ids = new Set(callbacks.attempts.map((attempt) => attempt.delivery.deliveryId));
      expect([...ids]).toEqual([`${jobId}-callback`]);
      const sent = JSON.parse(callbacks.attempts[0]!.delivery.body);
      expect(sent).toMatchObject({ jobId, userId: 'alice', jobStatus: 'completed', transcription: 'text of c0.wav' });
      expect(callbacks.attempts[0]!.delivery.url).toBe('https://hooks.example.com/done');
    });

    it('when the job fails, then the callback says so with the reason; when the receiver rejects it (4xx), it is not tried again', async () => {
      const callbacks = new RecordingCallbacks(clock, [new CallbackRejectedError('answered 410')]);
      const asr = new ScriptedTranscriber(clock).script('c0.wav', {
        error: new AsrRejectedError('ASR answered 400', 400),
      });
      await runJob(
        asr,
        ['c0.wav'],
        async (id) => {
          await failedState(id);
          await expect(env.client.workflow.getHandle(`${id}-callback`).result()).rejects.toThrow();
        },
        callbackInput(`workflow-test-${testNumber + 1}`),
        callbacks,
      );
      expect(callbacks.attempts).toHaveLength(1);
      expect(JSON.parse(callbacks.attempts[0]!.delivery.body)).toMatchObject({
        jobStatus: 'failed',
        failureReason: expect.stringContaining('ASR answered 400'),
      });
    });
  });

  it('when a chunk is being retried, then the current details the Web UI shows name the chunk and its last error', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const asr = new ScriptedTranscriber(clock);
    asr.transcribe = async function (audio) {
      if (audio.name !== 'c1.wav') return textOnly(`text of ${audio.name}`);
      if (Context.current().info.attempt === 1) throw new AsrUnavailableError('ASR answered 503');
      await released;
      return textOnly('second try');
    };
    const { details, state } = await runJob(asr, ['c0.wav', 'c1.wav'], async (jobId) => {
      const handle = env.client.workflow.getHandle(jobId);
      const currentDetails = async () =>
        (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;
      let seen: string | undefined;
      const deadline = Date.now() + 20_000;
      do seen = await currentDetails();
      while (!seen?.includes('retrying') && Date.now() < deadline);
      release();
      return { details: seen, state: await result(jobId) };
    });
    expect(details).toBe('1/2 chunks done, chunk 2 retrying: ASR answered 503');
    expect(state.chunks[1]).toMatchObject({ status: 'completed', attempts: 2, error: null, transcript: 'second try' });
  });

  it("when the ASR answers 429 with Retry-After, then the next attempt waits the ASR's delay instead of the backoff", async () => {
    const asr = new ScriptedTranscriber(clock).script(
      'c0.wav',
      { error: new AsrUnavailableError('ASR answered 429', { status: 429, retryAfterMs: 7000 }) },
      { text: 'ok' },
    );
    await runJob(asr, ['c0.wav'], result);
    const [first, second] = asr.attemptsFor('c0.wav').map((attempt) => attempt.startedAtMs);
    expect(second! - first!).toBeGreaterThanOrEqual(7000);
    expect(second! - first!).toBeLessThan(7900);
  });

  it('when chunks are silent, then they complete with empty transcripts and add nothing to the job', async () => {
    const asr = new ScriptedTranscriber(clock).script('c0.wav', { text: '' }).script('c2.wav', { text: '' });
    const state = await runJob(asr, ['c0.wav', 'c1.wav', 'c2.wav'], result);
    expect(state.chunks.map((chunk) => [chunk.status, chunk.transcript])).toEqual([
      ['completed', ''],
      ['completed', 'text of c1.wav'],
      ['completed', ''],
    ]);
    expect(state.transcription).toBe('text of c1.wav');
  });

  it('when a job has 24 chunks, then all are transcribed at once and stitched in order', async () => {
    const paths = Array.from({ length: 24 }, (_, index) => `c${index}.wav`);
    const asr = new ScriptedTranscriber(clock, (name) => ({ text: name.replace('.wav', ''), delayMs: 50 }));
    const state = await runJob(asr, paths, result);
    expect(state.transcription).toBe(paths.map((p) => p.replace('.wav', '')).join(' '));
    expect(asr.attempts).toHaveLength(24);
  });

  it('when the job is running, then the query shows finished and unfinished chunks', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const asr = new ScriptedTranscriber(clock);
    asr.transcribe = async function (audio) {
      if (audio.name === 'c1.wav') await released;
      return textOnly(`text of ${audio.name}`);
    };
    const state = await runJob(asr, ['c0.wav', 'c1.wav'], async (jobId) => {
      const handle = env.client.workflow.getHandle(jobId);
      let live: TranscriptionJobState;
      const deadline = Date.now() + 20_000;
      do {
        live = await handle.query(jobStateQuery);
      } while (live.chunks[0]?.status !== 'completed' && Date.now() < deadline);
      release();
      expect(live.chunks.map((chunk) => chunk.status)).toEqual(['completed', 'pending']);
      expect(live.transcription).toBeNull();
      expect(live.userId).toBe('alice');
      return result(jobId);
    });
    expect(state.transcription).toBe('text of c0.wav text of c1.wav');
  });

  it('when the job is cancelled mid-way, then it fails with reason "canceled", the ASR call under way is aborted, and finished chunks keep their text', async () => {
    const asr = new ScriptedTranscriber(clock).script('c1.wav', { text: 'never', delayMs: 20_000 });
    const state = await runJob(asr, ['c0.wav', 'c1.wav'], async (jobId) => {
      const handle = env.client.workflow.getHandle(jobId);
      const deadline = Date.now() + 20_000;
      while ((await handle.query(jobStateQuery)).chunks[0]?.status !== 'completed' && Date.now() < deadline);
      await handle.cancel();
      const failed = await failedState(jobId);
      // The activity learns of the cancellation at its next heartbeat (every half heartbeat timeout).
      const abortDeadline = Date.now() + 15_000;
      while (asr.aborted.length === 0 && Date.now() < abortDeadline) await new Promise((r) => setTimeout(r, 100));
      return failed;
    });
    expect(state.failureReason).toBe('canceled');
    expect(state.completedTime).not.toBeNull();
    expect(state.chunks.map((chunk) => [chunk.status, chunk.transcript, chunk.error])).toEqual([
      ['completed', 'text of c0.wav', null],
      ['failed', null, 'canceled'],
    ]);
    expect(asr.aborted).toEqual(['c1.wav']);
  });

  describe("the job's record", () => {
    it('when a job runs and completes, then its record says in progress while it runs and, after, what its result says', async () => {
      const asr = new ScriptedTranscriber(clock).script('c1.wav', { text: 'later', delayMs: 5000 });
      const createdTime = '2026-12-01T08:00:00.000Z';
      const { running, state, jobId } = await runJob(
        asr,
        ['c0.wav', 'c1.wav'],
        async (id) => {
          const handle = env.client.workflow.getHandle(id);
          const deadline = Date.now() + 20_000;
          while ((await handle.query(jobStateQuery)).chunks[0]?.status !== 'completed' && Date.now() < deadline);
          const whileRunning = await database.get(id);
          return { running: whileRunning, state: await result(id), jobId: id };
        },
        { createdTime, retryOf: { jobId: 'job-before', completedChunks: [] } },
      );
      expect(running).toMatchObject({ jobStatus: 'in_progress', createdTime, retriedFrom: 'job-before' });
      expect(running?.chunks[0]).toMatchObject({ status: 'completed', transcript: 'text of c0.wav' });
      const recorded = await database.get(jobId);
      expect(recorded).toMatchObject({
        jobId,
        userId: 'alice',
        jobStatus: 'completed',
        createdTime,
        completedTime: state.completedTime,
        transcription: 'text of c0.wav later',
        retriedFrom: 'job-before',
      });
      expect(recorded?.chunks).toEqual(state.chunks);
    });

    it('when a job is cancelled, then its record says failed with the reason "canceled"', async () => {
      const asr = new ScriptedTranscriber(clock).script('c0.wav', { text: 'never', delayMs: 20_000 });
      const jobId = await runJob(asr, ['c0.wav'], async (id) => {
        await env.client.workflow.getHandle(id).cancel();
        await failedState(id);
        return id;
      });
      expect(await database.get(jobId)).toMatchObject({ jobStatus: 'failed', failureReason: 'canceled' });
    });

    it('when the jobs database fails the end write several times, then the write is retried until it lands, once', async () => {
      let failuresLeft = 4;
      const ended: string[] = [];
      // FLAKY DATABASE, a test double over the real one: its first end writes fail as an unreachable server would.
      records = {
        recordStarted: (job) => database.recordStarted(job),
        recordChunk: (jobId, chunk) => database.recordChunk(jobId, chunk),
        recordAttemptStarted: (jobId, chunk) => database.recordAttemptStarted(jobId, chunk),
        unfinishedCreatedBefore: (cutoffMs, limit) => database.unfinishedCreatedBefore(cutoffMs, limit),
        get: (jobId) => database.get(jobId),
        deleteCreatedBefore: (cutoffMs, limit) => database.deleteCreatedBefore(cutoffMs, limit),
        recordEnded: async (job) => {
          if (failuresLeft-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          ended.push(job.jobId);
          return database.recordEnded(job);
        },
      };
      const asr = new ScriptedTranscriber(clock);
      const jobId = await runJob(asr, ['c0.wav'], async (id) => {
        await result(id);
        return id;
      });
      expect(ended).toEqual([jobId]);
      expect(await database.get(jobId)).toMatchObject({ jobStatus: 'completed', transcription: 'text of c0.wav' });
    });
  });
});
