import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { uploadExpiryScheduleId } from '../../src/temporal/maintenance-schedules';
import { ServiceStack, pollUntil, type StackStore } from '../support/service-stack';
import { chunkBytes } from '../support/temp-dir';

/** Uploads expire a few seconds after they are stored here, so a sweep can be watched doing its work. */
const RETENTION_HOURS = 0.001;
const MAX_CHUNK_BYTES = 256 * 1024;

/**
 * Audio in, as a client on another machine sends it: uploads over real HTTP (raw body and multipart), into the
 * caller's own space on the configured store, then named in jobs; listing, deletion, presigned uploads and expiry.
 * Run once on the local folder and once on a real S3 server.
 */
describe.each(['local', 's3'] as const)('audio uploads over HTTP, %s audio store', (store: StackStore) => {
  let stack: ServiceStack;
  let worker: ChildProcess;

  beforeAll(async () => {
    stack = await ServiceStack.start({
      store,
      env: { AUDIO_UPLOAD_RETENTION_HOURS: String(RETENTION_HOURS), MAX_CHUNK_BYTES: String(MAX_CHUNK_BYTES) },
    });
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function upload(user: 'alice' | 'bob' | 'carol' | 'dave', body: RequestInit['body'], query = '', headers = {}) {
    const response = await fetch(`${stack.apiUrl}/audio${query}`, {
      method: 'POST',
      headers: { ...stack.auth(user), ...headers },
      body,
      duplex: 'half',
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
  }

  it('when a client uploads the raw bytes, then it gets 201 with the path, and a job naming that path completes', async () => {
    const bytes = chunkBytes({ transcript: 'uploaded from afar' });
    const uploaded = await upload('alice', bytes, '?name=standup.wav', { 'content-type': 'audio/wav' });
    expect(uploaded.status).toBe(201);
    expect(uploaded.json).toMatchObject({ bytes: bytes.length, format: 'wav' });
    expect(uploaded.json.path).toMatch(/^uploads\/[0-9a-z]{26}-standup\.wav$/);
    expect(uploaded.headers.get('location')).toBe(`/audio/${uploaded.json.path}`);

    const jobId = await stack.submit('alice', [uploaded.json.path]);
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ jobStatus: 'completed', transcription: 'uploaded from afar' });
  });

  it('when a client uploads a multipart form, then its file field is stored under its file name', async () => {
    const form = new FormData();
    form.append('note', 'ignored');
    form.append('file', new Blob([chunkBytes({ transcript: 'from a form' })]), 'C:\\Users\\me\\meeting.wav');
    const uploaded = await upload('alice', form);
    expect(uploaded.status).toBe(201);
    expect(uploaded.json.path).toMatch(/^uploads\/[0-9a-z]{26}-meeting\.wav$/);

    const details = await stack.request('GET', `/audio/${uploaded.json.path}`, undefined, stack.auth('alice'));
    expect(details.status).toBe(200);
    expect(details.json).toMatchObject({ path: uploaded.json.path, format: 'wav', codec: expect.any(String) });
    const listed = await stack.request('GET', '/audio?prefix=uploads/', undefined, stack.auth('alice'));
    expect(listed.json.files.map((file: { path: string }) => file.path)).toContain(uploaded.json.path);
  });

  it.each([
    ['declares a length over the limit', () => chunkBytes({ bytes: MAX_CHUNK_BYTES + 1 }), 413, 'audio_too_large'],
    [
      'streams past the limit without declaring a length',
      () =>
        new ReadableStream({
          start(controller) {
            controller.enqueue(chunkBytes({ bytes: MAX_CHUNK_BYTES + 1 }));
            controller.close();
          },
        }),
      413,
      'audio_too_large',
    ],
    ['is not audio', () => Buffer.from('these are notes, not a recording\n'.repeat(40)), 415, 'unsupported_audio'],
  ])('when an upload %s, then it is refused and nothing is kept', async (_, body, status, code) => {
    const uploaded = await upload('carol', body(), '', { 'content-type': 'application/octet-stream' });
    expect(uploaded.status).toBe(status);
    expect(uploaded.json.error.code).toBe(code);
    const listed = await stack.request('GET', '/audio', undefined, stack.auth('carol'));
    expect(listed.json).toEqual({ files: [], nextPageToken: null });
  });

  it("when a user names, reads or deletes another user's upload, then every answer is the one for a missing file", async () => {
    const uploaded = await upload('alice', chunkBytes(), '?name=private.wav');
    const path = uploaded.json.path as string;
    const missing = path.replace('private', 'nothing');
    for (const [method, route, body] of [
      ['POST', '/transcribe', { audioChunkPaths: [path] }],
      ['GET', `/audio/${path}`, undefined],
      ['DELETE', `/audio/${path}`, undefined],
    ] as const) {
      const theirs = await stack.request(method, route, body, stack.auth('bob'));
      const nobodys = await stack.request(
        method,
        route.replace(path, missing),
        body && { audioChunkPaths: [missing] },
        stack.auth('bob'),
      );
      expect(theirs.status).toBe(404);
      expect(theirs.json.error.code).toBe('audio_not_found');
      expect(theirs.text.replaceAll('private', 'X')).toBe(nobodys.text.replaceAll('nothing', 'X'));
    }
    expect((await stack.request('GET', `/audio/${path}`, undefined, stack.auth('alice'))).status).toBe(200);
  });

  it('when a user deletes their upload, then it is gone and a job naming it is refused', async () => {
    const uploaded = await upload('dave', chunkBytes(), '?name=gone.wav');
    const deleted = await stack.request('DELETE', `/audio/${uploaded.json.path}`, undefined, stack.auth('dave'));
    expect(deleted.status).toBe(204);
    const submitted = await stack.request(
      'POST',
      '/transcribe',
      { audioChunkPaths: [uploaded.json.path] },
      stack.auth('dave'),
    );
    expect(submitted.status).toBe(404);
    expect(submitted.json.error.details).toEqual([
      { field: 'audioChunkPaths[0]', message: `${uploaded.json.path}: no such audio file in your audio space` },
    ]);
  });

  it('when a client asks for a direct upload URL, then the S3 store signs one for that size and the local store has none', async () => {
    const bytes = chunkBytes({ transcript: 'straight to the bucket' });
    const asked = await stack.request(
      'POST',
      '/audio/uploads',
      { name: 'direct.wav', bytes: bytes.length },
      stack.auth('bob'),
    );
    if (store === 'local') {
      expect(asked.status).toBe(404);
      expect(asked.json.error.code).toBe('direct_uploads_unavailable');
      return;
    }
    expect(asked.status).toBe(201);
    const put = await fetch(asked.json.uploadUrl, { method: 'PUT', headers: asked.json.headers, body: bytes });
    expect(put.status).toBe(200);
    const jobId = await stack.submit('bob', [asked.json.path]);
    expect(await stack.waitForJob(jobId)).toMatchObject({ transcription: 'straight to the bucket' });
    const tooBig = await stack.request('POST', '/audio/uploads', { bytes: MAX_CHUNK_BYTES + 1 }, stack.auth('bob'));
    expect(tooBig.status).toBe(413);
  });

  it('when the expiry schedule runs, then old uploads are removed, except those of a user whose job is still running', async () => {
    const old = await upload('carol', chunkBytes(), '?name=old.wav');
    const running = await upload('dave', chunkBytes({ transcript: 'slow but kept' }), '?name=running.wav');
    stack.simulator.script(running.json.path, [{ status: 200, body: { text: 'slow but kept' }, delayMs: 15_000 }]);
    const jobId = await stack.submit('dave', [running.json.path]);
    // Past the retention (3.6 s), with dave's job still at the ASR.
    await sleep(5000);
    // Read raw: the schedule's arguments are encrypted, and this client has no codec.
    const scheduleId = uploadExpiryScheduleId(stack.env.TEMPORAL_TASK_QUEUE as string);
    const sweeps = async () =>
      (await stack.temporal.workflowService.describeSchedule({ namespace: 'default', scheduleId })).info
        ?.recentActions ?? [];
    const before = (await sweeps()).length;
    await stack.temporal.schedule.getHandle(scheduleId).trigger();
    const after = await pollUntil(sweeps, (actions) => actions.length > before, 30_000);
    const sweepId = after.at(-1)?.startWorkflowResult?.workflowId as string;
    const sweep = await pollUntil(
      () => stack.temporal.workflow.getHandle(sweepId).describe(),
      (description) => description.status.name !== 'RUNNING',
      30_000,
    );
    expect(sweep.status.name).toBe('COMPLETED');

    const carols = await stack.request('GET', `/audio/${old.json.path}`, undefined, stack.auth('carol'));
    expect(carols.status).toBe(404);
    const daves = await stack.request('GET', `/audio/${running.json.path}`, undefined, stack.auth('dave'));
    expect(daves.status).toBe(200);
    expect(await stack.waitForJob(jobId)).toMatchObject({ jobStatus: 'completed', transcription: 'slow but kept' });
    expect(worker.exitCode).toBeNull();
  });
});
