import type { ChildProcess } from 'node:child_process';
import { CALLBACK_HEADERS, callbackSigningKey, verifyCallback } from '../../src/callbacks/callback-signature';
import { ServiceStack, pollUntil } from '../support/service-stack';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * The whole service for real: the pinned Temporal dev server, worker processes, the ASR simulator, and the API
 * over HTTP. The tests run in order and share the stack, as a user's session would.
 */
describe.each(['local', 's3'] as const)(
  'transcription service on the real Temporal dev server, %s audio store',
  (store) => {
    let stack: ServiceStack;
    let worker: ChildProcess;
    let completedJobId: string;
    let failedJobId: string;
    let workerMetrics: string;
    let receiver: WebhookReceiver;
    const CALLBACK_SECRET = 'integration-test-callback-secret-0123456789';

    beforeAll(async () => {
      receiver = await WebhookReceiver.start();
      stack = await ServiceStack.start({
        store,
        failPattern: /^broken\//,
        workerMetrics: true,
        env: {
          CALLBACK_URL_ALLOWLIST: receiver.origin,
          CALLBACK_SIGNING_SECRET: CALLBACK_SECRET,
          // The test's receiver listens on loopback, which callbacks refuse unless an operator allows it.
          CALLBACK_ALLOW_PRIVATE_ADDRESSES: 'true',
        },
      });
      for (let index = 1; index <= 4; index += 1) {
        await stack.writeChunk(`talk/part-${index}.wav`, { transcript: `words of part ${index}` });
      }
      await stack.writeChunk('broken/chunk.wav');
      worker = await stack.startWorker();
      workerMetrics = stack.workerMetricsAddress(worker);
    });

    afterAll(async () => {
      await stack?.stop();
      await receiver?.stop();
    });

    it('when a job is submitted, then it is accepted at once and completes with the chunks stitched in order', async () => {
      const submitted = await stack.request(
        'POST',
        '/transcribe',
        { userId: 'alice', audioChunkPaths: ['talk/part-3.wav', 'talk/part-1.wav', 'talk/part-2.wav'] },
        stack.auth('alice'),
      );
      expect(submitted.status).toBe(202);
      completedJobId = submitted.json.jobId;
      expect(submitted.headers.get('location')).toBe(`/transcript/${completedJobId}`);

      const job = await stack.waitForJob(completedJobId);
      expect(job).toMatchObject({
        jobId: completedJobId,
        userId: 'alice',
        jobStatus: 'completed',
        transcription: 'words of part 3 words of part 1 words of part 2',
        failureReason: null,
      });
      expect(job.chunks).toEqual([
        {
          index: 0,
          path: 'talk/part-3.wav',
          status: 'completed',
          durationSeconds: 0.1,
          segments: null,
          attempts: 1,
          error: null,
          transcript: 'words of part 3',
        },
        {
          index: 1,
          path: 'talk/part-1.wav',
          status: 'completed',
          durationSeconds: 0.1,
          segments: null,
          attempts: 1,
          error: null,
          transcript: 'words of part 1',
        },
        {
          index: 2,
          path: 'talk/part-2.wav',
          status: 'completed',
          durationSeconds: 0.1,
          segments: null,
          attempts: 1,
          error: null,
          transcript: 'words of part 2',
        },
      ]);
      expect(Date.parse(job.completedTime)).toBeGreaterThanOrEqual(Date.parse(job.createdTime));
    });

    it('when a chunk always fails at the ASR, then it is tried 3 times and the job fails while the others complete', async () => {
      failedJobId = await stack.submit('alice', ['talk/part-1.wav', 'broken/chunk.wav', 'talk/part-2.wav']);
      const job = await stack.waitForJob(failedJobId);
      expect(job.jobStatus).toBe('failed');
      expect(job.transcription).toBeNull();
      expect(job.failureReason).toContain('broken/chunk.wav');
      expect(job.chunks.map((chunk: { status: string }) => chunk.status)).toEqual(['completed', 'failed', 'completed']);
      expect(job.chunks[1]).toMatchObject({ attempts: 3, error: 'ASR answered 500: simulated permanent ASR failure' });
      expect(job.chunks[0].transcript).toBe('words of part 1');
      expect(stack.simulator.requestCount('broken/chunk.wav')).toBe(3);
    });

    it('when a failed job is retried, then only its failed chunk goes to the ASR again and the new job completes', async () => {
      stack.simulator.script('broken/chunk.wav', [{ status: 200, body: { text: 'mended' } }]);
      const sentBefore = ['talk/part-1.wav', 'broken/chunk.wav', 'talk/part-2.wav'].map((file) =>
        stack.simulator.requestCount(file),
      );
      const retried = await stack.request('POST', `/transcript/${failedJobId}/retry`, undefined, stack.auth('alice'));
      expect(retried.status).toBe(202);
      expect(retried.json).toMatchObject({ retriedFrom: failedJobId, reusedChunks: 2 });
      const job = await stack.waitForJob(retried.json.jobId);
      expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'words of part 1 mended words of part 2' });
      const sentAfter = ['talk/part-1.wav', 'broken/chunk.wav', 'talk/part-2.wav'].map((file) =>
        stack.simulator.requestCount(file),
      );
      expect(sentAfter.map((count, i) => count - sentBefore[i]!)).toEqual([0, 1, 0]);

      const again = await stack.request('POST', `/transcript/${job.jobId}/retry`, undefined, stack.auth('alice'));
      expect(again.status).toBe(409);
      expect(again.json.error.code).toBe('job_not_failed');
      const someoneElse = await stack.request('POST', `/transcript/${failedJobId}/retry`, undefined, stack.auth('bob'));
      expect(someoneElse.status).toBe(404);
    });

    it('when a job names a callback URL, then its result is POSTed there signed, retried after a 503 under one delivery id', async () => {
      receiver.answers.push({ status: 503 });
      const submitted = await stack.request(
        'POST',
        '/transcribe',
        { audioChunkPaths: ['talk/part-1.wav'], callbackUrl: `${receiver.origin}/hooks/transcripts` },
        stack.auth('carol'),
      );
      expect(submitted.status).toBe(202);
      const job = await stack.waitForJob(submitted.json.jobId);
      expect(job.jobStatus).toBe('completed');
      await pollUntil(
        async () => receiver.received.length,
        (count) => count >= 2,
        30_000,
      );
      const [refused, delivered] = receiver.received;
      expect(refused!.headers[CALLBACK_HEADERS.delivery]).toBe(delivered!.headers[CALLBACK_HEADERS.delivery]);
      const signed = {
        timestamp: delivered!.headers[CALLBACK_HEADERS.timestamp] as string,
        signature: delivered!.headers[CALLBACK_HEADERS.signature] as string,
        body: delivered!.body,
      };
      // carol verifies with her own key for this URL, not the service's secret.
      const carolsKey = callbackSigningKey(CALLBACK_SECRET, 'carol', `${receiver.origin}/hooks/transcripts`);
      expect(verifyCallback(carolsKey, signed)).toBe(true);
      expect(
        verifyCallback(callbackSigningKey(CALLBACK_SECRET, 'dave', `${receiver.origin}/hooks/transcripts`), signed),
      ).toBe(false);
      expect(JSON.parse(delivered!.body)).toEqual(job);

      const refusedUrl = await stack.request(
        'POST',
        '/transcribe',
        { audioChunkPaths: ['talk/part-1.wav'], callbackUrl: 'http://169.254.169.254/latest/meta-data' },
        stack.auth('carol'),
      );
      expect(refusedUrl.status).toBe(400);
      expect(refusedUrl.json.error.details).toEqual([
        { field: 'callbackUrl', message: 'http://169.254.169.254 is not an allowed callback origin' },
      ]);
    });

    it.each([
      ['malformed JSON', '{"userId": ', 400, 'invalid_json'],
      ['a wrong type', { userId: 'alice', audioChunkPaths: 'talk/part-1.wav' }, 400, 'invalid_request'],
      ['no chunks', { userId: 'alice', audioChunkPaths: [] }, 400, 'invalid_request'],
      [
        '25 chunks',
        { userId: 'alice', audioChunkPaths: Array.from({ length: 25 }, () => 'a.wav') },
        400,
        'invalid_request',
      ],
      [
        'a path leaving the audio root',
        { userId: 'alice', audioChunkPaths: ['../../etc/passwd'] },
        400,
        'invalid_request',
      ],
      ['a file that does not exist', { audioChunkPaths: ['talk/missing.wav'] }, 404, 'audio_not_found'],
    ])(
      'when POST /transcribe gets %s, then it answers a JSON 4xx naming the problem',
      async (_, body, status, code) => {
        const response = await stack.request('POST', '/transcribe', body, stack.auth('alice'));
        expect(response.status).toBe(status);
        expect(response.json.error).toMatchObject({ code });
        expect(typeof response.json.error.message).toBe('string');
        expect(response.text).not.toMatch(/\n\s+at /);
      },
    );

    it('when an operator scrapes the worker, then it shows the SDK metrics, ASR attempts by outcome and jobs by outcome', async () => {
      await stack.waitForJob(completedJobId);
      await stack.waitForJob(failedJobId);
      // The exporter publishes what the SDK recorded about once a second.
      const metrics = await pollUntil(
        async () => (await fetch(`http://${workerMetrics}/metrics`)).text(),
        (text) => /transcription_jobs_total\{[^}]*outcome="failed"/.test(text),
        15_000,
      );
      expect(metrics).toMatch(/transcription_jobs_total\{[^}]*outcome="completed"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/transcription_asr_attempts_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/transcription_asr_attempts_total\{[^}]*outcome="AsrUnavailableError"[^}]*\} [3-9]/);
      expect(metrics).toMatch(/transcription_asr_call_seconds_bucket/);
      expect(metrics).toMatch(/temporal_activity_execution_latency_bucket/);
    });

    it('when the body is not JSON, then the answer is 415', async () => {
      const response = await stack.request('POST', '/transcribe', 'userId=alice', {
        ...stack.auth('alice'),
        'content-type': 'text/plain',
      });
      expect(response.status).toBe(415);
      expect(response.json.error.code).toBe('unsupported_media_type');
    });

    it('when a job or route does not exist, then the answer is a JSON 404', async () => {
      expect((await stack.request('GET', '/transcript/job-does-not-exist')).json.error.code).toBe('job_not_found');
      const route = await stack.request('GET', '/nothing-here');
      expect(route.status).toBe(404);
      expect(route.json.error.code).toBe('not_found');
    });

    it('when search gets a bad status, then it is a 400 from search, not a lookup of a job named "search"', async () => {
      const response = await stack.request('GET', '/transcript/search?jobStatus=done');
      expect(response.status).toBe(400);
      expect(response.json.error.details).toEqual([{ field: 'jobStatus', message: expect.any(String) }]);
    });

    it('when a user searches by status, then they get their own jobs in that status, page by page', async () => {
      const first = await stack.submit('bob', ['talk/part-1.wav']);
      await stack.waitForJob(first);
      const second = await stack.submit('bob', ['talk/part-2.wav']);
      await stack.waitForJob(second);

      const page1 = await pollUntil(
        () => stack.request('GET', '/transcript/search?userId=bob&jobStatus=completed&limit=1'),
        (reply) => reply.json.results?.[0]?.jobId === second && reply.json.nextPageToken !== null,
      );
      expect(page1.json.results[0]).toMatchObject({
        userId: 'bob',
        jobStatus: 'completed',
        transcription: 'words of part 2',
      });
      const page2 = await stack.request(
        'GET',
        `/transcript/search?userId=bob&jobStatus=completed&limit=1&pageToken=${page1.json.nextPageToken}`,
      );
      expect(page2.json.results.map((job: { jobId: string }) => job.jobId)).toEqual([first]);

      const failed = await pollUntil(
        () => stack.request('GET', '/transcript/search?userId=alice&jobStatus=failed'),
        (reply) => reply.json.results?.length === 1,
      );
      expect(failed.json.results[0]).toMatchObject({ jobId: failedJobId, jobStatus: 'failed' });
      const none = await stack.request('GET', '/transcript/search?userId=bob&jobStatus=failed');
      expect(none.json).toEqual({ results: [], nextPageToken: null });
    });

    it('when a page token was altered or belongs to another search, then the answer is a 400 naming pageToken', async () => {
      const page = await stack.request('GET', '/transcript/search?userId=bob&jobStatus=completed&limit=1');
      const token: string = page.json.nextPageToken;
      for (const query of [
        'userId=bob&jobStatus=completed&pageToken=bogus',
        `userId=bob&jobStatus=completed&pageToken=x${token}`,
        `userId=alice&jobStatus=completed&pageToken=${token}`,
      ]) {
        const response = await stack.request('GET', `/transcript/search?${query}`);
        expect(response.status).toBe(400);
        expect(response.json.error.details[0].field).toBe('pageToken');
      }
    });

    it('when a POST is retried with the same Idempotency-Key, then it returns the same job; with another body, a 409', async () => {
      const body = { userId: 'carol', audioChunkPaths: ['talk/part-1.wav'] };
      const headers = { ...stack.auth('carol'), 'idempotency-key': 'upload-42' };
      const first = await stack.request('POST', '/transcribe', body, headers);
      const again = await stack.request('POST', '/transcribe', body, headers);
      expect(first.status).toBe(202);
      expect(again.status).toBe(202);
      expect(again.json.jobId).toBe(first.json.jobId);
      expect(again.headers.get('idempotent-replayed')).toBe('true');

      const other = await stack.request(
        'POST',
        '/transcribe',
        { ...body, audioChunkPaths: ['talk/part-2.wav'] },
        headers,
      );
      expect(other.status).toBe(409);
      expect(other.json.error).toMatchObject({ code: 'idempotency_conflict', details: { jobId: first.json.jobId } });
      await stack.waitForJob(first.json.jobId);
      expect(stack.simulator.requestCount('talk/part-1.wav')).toBeGreaterThan(0);
    });

    it('when a client long-polls a running job, then one GET answers when the job completes, with the transcript', async () => {
      await stack.writeChunk('poll/part-1.wav');
      stack.simulator.script('poll/part-1.wav', [{ status: 200, body: { text: 'worth the wait' }, delayMs: 3000 }]);
      const jobId = await stack.submit('erin', ['poll/part-1.wav']);
      const started = Date.now();
      const reply = await stack.request('GET', `/transcript/${jobId}?wait=15`, undefined, stack.auth('erin'));
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({ jobStatus: 'completed', transcription: 'worth the wait' });
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('when a user cancels a running job, then its ASR call is aborted and it reads failed with reason "canceled"', async () => {
      await stack.writeChunk('cancel/part-1.wav', { transcript: 'kept' });
      await stack.writeChunk('cancel/part-2.wav');
      stack.simulator.script('cancel/part-2.wav', [{ status: 200, body: { text: 'never' }, delayMs: 60_000 }]);
      const jobId = await stack.submit('erin', ['cancel/part-1.wav', 'cancel/part-2.wav']);
      await stack.waitForJob(jobId, (job) => job.chunks[0].status === 'completed' && stack.simulator.inFlight() === 1);

      const cancel = await stack.request('DELETE', `/transcript/${jobId}`, undefined, stack.auth('erin'));
      expect(cancel.status).toBe(202);
      const job = await stack.waitForJob(jobId);
      expect(job).toMatchObject({ jobStatus: 'failed', failureReason: 'canceled', transcription: null });
      expect(
        job.chunks.map((chunk: { status: string; transcript: string | null }) => [chunk.status, chunk.transcript]),
      ).toEqual([
        ['completed', 'kept'],
        ['failed', null],
      ]);
      // The worker aborts the call at its next heartbeat, well before the simulator's 60 s answer.
      await pollUntil(
        async () => stack.simulator.inFlight(),
        (inFlight) => inFlight === 0,
        15_000,
      );
      // Once it has ended, the same DELETE deletes it.
      const again = await stack.request('DELETE', `/transcript/${jobId}`, undefined, stack.auth('erin'));
      expect(again.status).toBe(204);
      expect((await stack.request('GET', `/transcript/${jobId}`, undefined, stack.auth('erin'))).status).toBe(404);
    });

    it('when an operator terminates a job, then it reads failed with the reason, and finished chunks keep their text', async () => {
      stack.simulator.script('talk/part-4.wav', [{ status: 200, body: { text: 'late' }, delayMs: 30_000 }]);
      const jobId = await stack.submit('dave', ['talk/part-1.wav', 'talk/part-4.wav']);
      await stack.waitForJob(jobId, (job) => job.chunks[0].status === 'completed');
      await stack.temporal.workflow.getHandle(jobId).terminate('operator cleanup');

      const job = await stack.waitForJob(jobId);
      expect(job.jobStatus).toBe('failed');
      expect(job.failureReason).toMatch(/terminated/);
      expect(job.failureReason).toMatch(/operator cleanup/);
      expect(job.completedTime).not.toBeNull();
      expect(job.chunks[0]).toMatchObject({ status: 'completed', transcript: 'words of part 1' });
      expect(job.chunks[1]).toMatchObject({ status: 'failed', transcript: null });
    });

    it('when the worker is SIGKILLed mid-job and replaced, then the job completes and finished chunks are not sent again', async () => {
      for (const slow of ['talk/part-3.wav', 'talk/part-4.wav']) {
        stack.simulator.script(slow, [{ status: 200, body: { text: 'lost with the worker' }, delayMs: 30_000 }]);
      }
      const before = ['talk/part-1.wav', 'talk/part-2.wav', 'talk/part-3.wav', 'talk/part-4.wav'].map((name) =>
        stack.simulator.requestCount(name),
      );
      const jobId = await stack.submit('erin', [
        'talk/part-1.wav',
        'talk/part-2.wav',
        'talk/part-3.wav',
        'talk/part-4.wav',
      ]);
      const midway = await stack.waitForJob(
        jobId,
        (job) => job.chunks[0].status === 'completed' && job.chunks[1].status === 'completed',
      );
      expect(midway.jobStatus).toBe('in_progress');
      expect(midway.chunks[2].status).toBe('in_progress');
      // The worker records a chunk's outcome just before it reports it: the kill comes once Temporal has both.
      await pollUntil(
        () => stack.temporal.workflow.getHandle(jobId).fetchHistory(),
        (history) => (history.events ?? []).filter((event) => event.activityTaskCompletedEventAttributes).length === 2,
      );

      await stack.stopWorker(worker, 'SIGKILL');
      worker = await stack.startWorker();

      const job = await stack.waitForJob(jobId);
      expect(job.jobStatus).toBe('completed');
      expect(job.transcription).toBe('words of part 1 words of part 2 words of part 3 words of part 4');
      const sent = ['talk/part-1.wav', 'talk/part-2.wav', 'talk/part-3.wav', 'talk/part-4.wav'].map(
        (name, index) => stack.simulator.requestCount(name) - before[index]!,
      );
      expect(sent).toEqual([1, 1, 2, 2]);
      expect(job.chunks[2].attempts).toBe(2);
    });

    it('when the worker is asked to stop mid-chunk, then it lets the chunk finish first, and the ASR is not called again', async () => {
      await stack.writeChunk('drain/part-1.wav', { transcript: 'finished before leaving' });
      stack.simulator.script('drain/part-1.wav', [
        { status: 200, body: { text: 'finished before leaving' }, delayMs: 3000 },
      ]);
      const jobId = await stack.submit('erin', ['drain/part-1.wav']);
      await pollUntil(
        async () => stack.simulator.inFlight(),
        (inFlight) => inFlight === 1,
        15_000,
      );
      const stopping = Date.now();
      await stack.stopWorker(worker, 'SIGTERM');
      expect(Date.now() - stopping).toBeGreaterThan(1000);
      worker = await stack.startWorker();

      const job = await stack.waitForJob(jobId);
      expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'finished before leaving' });
      expect(job.chunks[0].attempts).toBe(1);
      expect(stack.simulator.requestCount('drain/part-1.wav')).toBe(1);
    });

    it('when no worker is running, then finished jobs are still read in full and a new job still answers', async () => {
      await stack.stopWorker(worker);

      const completed = await stack.request('GET', `/transcript/${completedJobId}`);
      expect(completed.status).toBe(200);
      expect(completed.json).toMatchObject({
        jobStatus: 'completed',
        transcription: 'words of part 3 words of part 1 words of part 2',
      });
      const failed = await stack.request('GET', `/transcript/${failedJobId}`);
      expect(failed.json).toMatchObject({ jobStatus: 'failed' });
      expect(failed.json.chunks[0].transcript).toBe('words of part 1');

      const waiting = await stack.submit('frank', ['talk/part-1.wav', 'talk/part-2.wav']);
      const job = await stack.request('GET', `/transcript/${waiting}`);
      expect(job.status).toBe(200);
      expect(job.json).toMatchObject({ jobStatus: 'in_progress', userId: 'frank' });
      expect(job.json.chunks.map((chunk: { status: string }) => chunk.status)).toEqual(['pending', 'pending']);
    });

    it('when Temporal answers, then /healthz is 200', async () => {
      expect((await stack.request('GET', '/healthz')).status).toBe(200);
    });
  },
);
