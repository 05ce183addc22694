import { decodeOptionalFailureToOptionalError, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TranscriptionWorkflow } from '../../workflows';
import { USER_ID_SEARCH_ATTRIBUTE, WORKFLOW_TYPE, type TranscriptionJobInput } from '../../workflows/contract';
import { AesGcmPayloadCodec } from '../../src/codec/aes-gcm-payload-codec';
import { serviceDataConverter } from '../../src/codec/data-converter';
import { parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { PROJECT_ROOT, ServiceStack, pollUntil } from '../support/service-stack';

jest.setTimeout(300_000);

const TEMPORAL_CLI = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');
const execFileAsync = promisify(execFile);

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/**
 * What someone who reads Temporal's database, or its gRPC port, sees of a job: the history and the mutable state
 * read raw, by a client without the service's codec.
 */
describe('nothing plain in Temporal, on the real dev server', () => {
  let stack: ServiceStack;
  // Names and texts that appear nowhere else, so finding them in raw bytes can only mean a leak.
  const folder = `board-minutes-${randomBytes(4).toString('hex')}`;
  const rejectedText = `speaker ${randomBytes(4).toString('hex')} voiceprint does not match the account`;
  const busyText = `queue ${randomBytes(4).toString('hex')} of the night shift is full`;

  beforeAll(async () => {
    // A first retry 8 s out leaves time to read a chunk while Temporal holds it between attempts.
    stack = await ServiceStack.start({ env: { CHUNK_RETRY_INITIAL_INTERVAL_MS: '8000' } });
    for (const name of ['rejected', 'busy', 'slow']) await stack.writeChunk(`${folder}/${name}.wav`, {}, ['alice']);
    await stack.writeChunk('forged.wav', {}, ['alice']);
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const raw = (workflowId: string) => ({ namespace: 'default', execution: { workflowId } });

  /** Every event of the workflow's history, and all of it as the bytes Temporal serves. */
  async function rawHistory(workflowId: string): Promise<{ events: HistoryEvent[]; bytes: Buffer }> {
    const events: HistoryEvent[] = [];
    const pages: Buffer[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await stack.temporal.workflowService.getWorkflowExecutionHistory({
        ...raw(workflowId),
        nextPageToken,
      });
      events.push(...(page.history?.events ?? []));
      pages.push(Buffer.from(temporal.api.history.v1.History.encode(page.history ?? {}).finish()));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return { events, bytes: Buffer.concat(pages) };
  }

  /** The secrets of this test found in `bytes`. */
  const secretsIn = (bytes: Buffer) => [folder, rejectedText, busyText].filter((secret) => bytes.includes(secret));

  /** What `temporal workflow show` prints of a job, payload data decoded from base64 as a reader would. */
  async function shownByCli(workflowId: string, ...codec: string[]): Promise<string> {
    const { stdout } = await execFileAsync(
      TEMPORAL_CLI,
      ['workflow', 'show', '-w', workflowId, '--address', stack.devServer.address, '--output', 'json', ...codec],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const texts: string[] = [stdout];
    JSON.parse(stdout, (key, value: unknown) => {
      if (key === 'data' && typeof value === 'string') texts.push(Buffer.from(value, 'base64').toString());
      return value;
    });
    return texts.join('\n');
  }

  it('when a chunk fails for good and another is retried, then history holds neither their paths nor the ASR error texts, and the owner reads both', async () => {
    stack.simulator.script(`${folder}/rejected.wav`, [{ status: 422, body: { error: { message: rejectedText } } }]);
    stack.simulator.script(`${folder}/busy.wav`, [
      { status: 503, body: { error: { message: busyText } } },
      { status: 200, body: { text: 'after the wait' } },
    ]);
    const jobId = await stack.submit('alice', [`${folder}/rejected.wav`, `${folder}/busy.wav`]);

    // Between its attempts the busy chunk is Temporal's to retry, with its last failure in the mutable state.
    const retrying = await pollUntil(
      () => stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('alice')),
      (reply) => reply.json?.chunks?.[1]?.error !== null && reply.json?.chunks?.[1]?.status !== 'completed',
    );
    expect(retrying.json.chunks[1].error).toBe(`ASR answered 503: ${busyText}`);
    // The worker records the failure as it reports it, so the server may hold it a moment after the read shows it.
    const described = await pollUntil(
      () => stack.temporal.workflowService.describeWorkflowExecution(raw(jobId)),
      (description) => description.pendingActivities?.some((activity) => activity.lastFailure) ?? false,
    );
    expect(
      secretsIn(
        Buffer.from(temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode(described).finish()),
      ),
    ).toEqual([]);

    const job = await stack.waitForJob(jobId);
    expect(job.jobStatus).toBe('failed');
    expect(job.failureReason).toContain(`${folder}/rejected.wav`);
    expect(job.chunks[0]).toMatchObject({ status: 'failed', error: `ASR answered 422: ${rejectedText}` });
    expect(job.chunks[1]).toMatchObject({ status: 'completed', transcript: 'after the wait', attempts: 2 });

    // The record of the end is written before the workflow's last task completes, so its history may close a moment later.
    const { events, bytes } = await pollUntil(
      () => rawHistory(jobId),
      (history) => history.events.some((event) => event.workflowExecutionFailedEventAttributes),
    );
    // The failed chunk's end, the busy chunk's failed attempt (signalled to the workflow), and the job's failure.
    expect(events.filter((event) => event.activityTaskFailedEventAttributes)).toHaveLength(1);
    expect(events.some((event) => event.workflowExecutionSignaledEventAttributes)).toBe(true);
    expect(secretsIn(bytes)).toEqual([]);

    // The Web UI and the CLI decode through the codec endpoint: there, an operator reads the failure whole.
    expect(await shownByCli(jobId)).not.toContain(rejectedText);
    const decoded = await shownByCli(
      jobId,
      '--codec-endpoint',
      `${stack.apiUrl}/codec`,
      '--codec-auth',
      `Bearer ${stack.apiKeys.ops}`,
    );
    expect(decoded).toContain(rejectedText);
  });

  it('when a job is terminated after a chunk failed, then its failure is read back from the encrypted history and recorded', async () => {
    stack.simulator.script(`${folder}/rejected.wav`, [{ status: 422, body: { error: { message: rejectedText } } }]);
    stack.simulator.script(`${folder}/slow.wav`, [{ status: 200, body: { text: 'too late' }, delayMs: 15_000 }]);
    const jobId = await stack.submit('alice', [`${folder}/rejected.wav`, `${folder}/slow.wav`]);
    await pollUntil(
      () => rawHistory(jobId),
      ({ events }) => events.some((event) => event.activityTaskFailedEventAttributes),
    );
    await stack.temporal.workflow.getHandle(jobId).terminate('stopped by an operator');

    // The jobs database still calls it running: the API repairs the record from the history as it reads it.
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'failed', failureReason: expect.stringMatching(/^job terminated/) });
    expect(job.chunks[0]).toMatchObject({ status: 'failed', error: `ASR answered 422: ${rejectedText}` });
    const recorded = await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('alice'));
    expect(recorded.json.chunks[0].error).toBe(`ASR answered 422: ${rejectedText}`);
    expect(secretsIn((await rawHistory(jobId)).bytes)).toEqual([]);
  });

  it('when someone starts a workflow straight through Temporal with a plain input, then the worker refuses it, runs nothing, and its owner can still submit', async () => {
    const workflowId = `forged-${randomBytes(4).toString('hex')}`;
    const input: TranscriptionJobInput = {
      userId: 'alice',
      audioChunkPaths: ['forged.wav'],
      retry: { maximumAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 1000 },
      timeouts: { startToCloseMs: 30_000, heartbeatMs: 10_000 },
      retryOf: { jobId: 'made-up', completedChunks: [] },
    };
    // The plain client of the stack: no codec, as anyone reaching Temporal's port would have.
    const handle = await stack.temporal.workflow.start<typeof TranscriptionWorkflow>(WORKFLOW_TYPE, {
      taskQueue: stack.env.TEMPORAL_TASK_QUEUE as string,
      workflowId,
      args: [input],
      // A plain memo too: listings that decode memos would throw on it, and admission lists running jobs.
      memo: { note: 'forged' },
      typedSearchAttributes: [{ key: USER_ID_SEARCH_ATTRIBUTE, value: 'alice' }],
    });
    try {
      const { events } = await pollUntil(
        () => rawHistory(workflowId),
        (history) => history.events.some((event) => event.workflowTaskFailedEventAttributes),
      );
      const failed = events.find((event) => event.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
      const service = loadDataConverter(
        serviceDataConverter(new AesGcmPayloadCodec(parseEncryptionKeys(stack.env.PAYLOAD_ENCRYPTION_KEYS as string))),
      );
      const reason = await decodeOptionalFailureToOptionalError(service, failed?.failure);
      expect(reason?.message).toMatch(/refused 1 unencrypted payload/);
      // Nothing of the workflow ran: no job record written, no chunk scheduled, no ASR call.
      const ran = events.filter(
        (event) =>
          event.eventType === EventType.EVENT_TYPE_MARKER_RECORDED ||
          event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      );
      expect(ran).toEqual([]);
      expect(stack.simulator.requestCount('forged.wav')).toBe(0);
      expect((await stack.request('GET', `/transcript/${workflowId}`, undefined, stack.auth('alice'))).status).toBe(
        404,
      );
      // Once visibility lists it, admission reads past its plain memo: the user's own jobs still start.
      await pollUntil(
        async () => (await stack.temporal.workflow.count(`WorkflowId = '${workflowId}'`)).count,
        (count) => count === 1,
      );
      const submitted = await stack.request(
        'POST',
        '/transcribe',
        { audioChunkPaths: ['forged.wav'] },
        stack.auth('alice'),
      );
      expect(submitted.status).toBe(202);
    } finally {
      await handle.terminate('forged in a test');
    }
  });
});
