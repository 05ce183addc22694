import { CallbackUrlPolicy } from '../../src/callbacks/callback-url-policy';
import type { ChunkState } from '../../workflows/contract';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp, type AppDependencies } from '../../src/api/app';
import { ApiKeyStore, parseApiKeyList } from '../../src/auth/api-keys';
import { BearerAuthenticator } from '../../src/auth/bearer-authenticator';
import { ProcessRateLimiter } from '../../src/api/rate-limiter';
import { AsrBacklogFullError, TooManyJobsInFlightError } from '../../src/jobs/job-admission';
import { JobSubmission } from '../../src/jobs/job-submission';
import { JobAlreadyStartedError, JobNotFoundError, type StartJobRequest } from '../../src/jobs/transcription-jobs';
import type { TranscriptResult } from '../../src/jobs/transcript-result';
import { ApiMetrics } from '../../src/api/api-metrics';
import { createLogger } from '../../src/logger';
import { localAudioStore } from '../support/audio-stores';
import { wavBytes } from '../../bench/wav-file';
import { tempDir } from '../support/temp-dir';

const JOB_ID_KEY = Buffer.alloc(32, 1);

const KEYS = {
  alice: 'alice-key-0123456789abcdef',
  bob: 'bob-key-0123456789abcdef',
  ops: 'ops-key-0123456789abcdef',
};
const bearer = (user: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[user]}` });

const authenticator = new BearerAuthenticator({
  apiKeys: new ApiKeyStore(parseApiKeyList(`${KEYS.alice}:alice:user,${KEYS.bob}:bob:user,${KEYS.ops}:ops:operator`)),
});

/** A logger whose JSON lines land in `lines`. */
function capturedLog(level: 'trace' | 'info') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('api', level, sink) };
}

/**
 * IN-MEMORY JOB STORE, a test double for TranscriptionJobs, the jobs database and the catalog over them: records
 * the jobs started and serves them back.
 */
class InMemoryJobs {
  readonly submitted: StartJobRequest[] = [];
  private readonly jobs = new Map<string, TranscriptResult>();

  async start(request: StartJobRequest) {
    if (this.jobs.has(request.jobId)) throw new JobAlreadyStartedError(request.jobId);
    const { jobId } = request;
    this.submitted.push(request);
    this.jobs.set(jobId, {
      jobId,
      userId: request.userId,
      jobStatus: 'in_progress',
      chunks: [],
      createdTime: new Date(0).toISOString(),
      completedTime: null,
      transcription: null,
      failureReason: null,
      retriedFrom: null,
    });
  }

  readonly recorded: string[] = [];

  async recordStarted(job: TranscriptResult) {
    this.recorded.push(job.jobId);
  }

  readonly deleted: string[] = [];

  async delete(job: TranscriptResult) {
    this.deleted.push(job.jobId);
    this.jobs.delete(job.jobId);
  }

  async startedWith(jobId: string) {
    return this.submitted.find((request) => request.jobId === jobId)?.fingerprint;
  }

  /** The owners looked up, in order: the catalog checks ownership before it reads anything of a job. */
  readonly ownersRead: string[] = [];

  async readableBy(jobId: string, mayRead: (owner: string) => boolean) {
    this.ownersRead.push(jobId);
    const job = this.jobs.get(jobId);
    if (!job || !mayRead(job.userId)) throw new JobNotFoundError(jobId);
    return job;
  }

  async get(jobId: string) {
    const job = this.jobs.get(jobId);
    if (!job) throw new JobNotFoundError(jobId);
    return job;
  }

  async search(request: { userId: string }) {
    return { results: [...this.jobs.values()].filter((job) => job.userId === request.userId), nextPageToken: null };
  }

  /** What the health checks answer: a part set to false is down. */
  readonly answering = { temporal: true, jobsDatabase: true };

  healthChecks() {
    const check = (part: keyof InMemoryJobs['answering']) => async () => {
      if (!this.answering[part]) throw new Error(`${part} is down`);
    };
    return { temporal: check('temporal'), jobsDatabase: check('jobsDatabase') };
  }

  private readonly finished = new Map<string, () => void>();

  async waitForEnd(jobId: string, ms: number) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.finished.set(jobId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  readonly cancelled: string[] = [];

  async cancel(jobId: string) {
    this.cancelled.push(jobId);
  }

  /** Completes a job, waking whoever waits for it. */
  complete(jobId: string, transcription: string, chunks?: ChunkState[]) {
    const job = this.jobs.get(jobId);
    if (job) {
      const completedTime = new Date().toISOString();
      this.jobs.set(jobId, {
        ...job,
        jobStatus: 'completed',
        transcription,
        completedTime,
        chunks: chunks ?? job.chunks,
      });
    }
    this.finished.get(jobId)?.();
  }
}

describe('API access rules and hostile input', () => {
  let root: string;
  let jobs: InMemoryJobs;
  let admit: jest.Mock<Promise<void>, [string, string, number]>;

  const app = (overrides: Partial<AppDependencies> = {}) => {
    const audio = localAudioStore(root, { maxChunkBytes: 64 * 1024, maxChunkSeconds: 2 });
    return createApp({
      jobs,
      submission: new JobSubmission({ jobs, audio, admission: { admit }, records: jobs, jobIdKey: JOB_ID_KEY }),
      audio,
      authenticate: (header) => authenticator.authenticate(header),
      rateLimiter: new ProcessRateLimiter({ perSecond: 1000, burst: 1000 }),
      addressRateLimiter: new ProcessRateLimiter({ perSecond: 1000, burst: 1000 }),
      limits: { maxChunksPerJob: 24, maxBodyBytes: 4096, maxChunkBytes: 64 * 1024 },
      logger: createLogger('api', 'silent'),
      withinDeadline: (fn) => fn(),
      metrics: new ApiMetrics(),
      callbackPolicy: new CallbackUrlPolicy(['https://hooks.example.com', 'https://*.example.org']),
      ...overrides,
    }).callback();
  };

  const submitAs = async (user: 'alice' | 'bob') =>
    (
      await request(app())
        .post('/transcribe')
        .set(bearer(user))
        .send({ audioChunkPaths: ['rec/one.wav'] })
    ).body.jobId as string;

  beforeAll(async () => {
    const base = await tempDir('api-access');
    root = path.join(base, 'audio');
    // Each user's own copy: paths resolve in the caller's audio space.
    for (const user of ['alice', 'bob', 'ops', 'zoe']) {
      const rec = path.join(root, user, 'rec');
      await mkdir(rec, { recursive: true });
      await writeFile(path.join(rec, 'one.wav'), wavBytes({ seconds: 1 }));
      await writeFile(path.join(rec, 'long.wav'), wavBytes({ seconds: 3 }));
      await writeFile(path.join(rec, 'big.wav'), wavBytes({ bytes: 65 * 1024 }));
      await writeFile(path.join(rec, 'notes.wav'), 'these are meeting notes, not audio\n'.repeat(20));
    }
    await writeFile(path.join(root, 'bob', 'rec', 'private.wav'), wavBytes({ bytes: 65 * 1024 }));
    await writeFile(path.join(base, 'secret.wav'), wavBytes({ seconds: 1 }));
    await symlink(path.join(base, 'secret.wav'), path.join(root, 'alice', 'rec', 'escape.wav'));
  });

  beforeEach(() => {
    jobs = new InMemoryJobs();
    admit = jest.fn(async (_userId: string, _jobId: string, _chunkCount: number) => undefined);
  });

  describe('authentication', () => {
    it('when no credentials are sent, then the answer is 401 with a Bearer challenge', async () => {
      const response = await request(app()).get('/transcript/search?jobStatus=completed');
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      expect(response.body.error.code).toBe('unauthenticated');
    });

    it('when the key is unknown, then the answer is 401 with invalid_token and the key is not echoed', async () => {
      const response = await request(app())
        .post('/transcribe')
        .set('authorization', 'Bearer not-a-key-of-ours-123456')
        .send({ audioChunkPaths: ['rec/one.wav'] });
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      expect(response.text).not.toContain('not-a-key-of-ours');
      expect(jobs.submitted).toEqual([]);
    });

    it('when a part is down, then /healthz is a 503 naming it; a flood of checks costs one check per 2 s', async () => {
      let checks = 0;
      const counted = {
        ...jobs,
        healthChecks: () => {
          const parts = jobs.healthChecks();
          return { ...parts, temporal: () => (checks++, parts.temporal()) };
        },
        readableBy: jobs.readableBy.bind(jobs),
        get: jobs.get.bind(jobs),
        search: jobs.search.bind(jobs),
        delete: jobs.delete.bind(jobs),
        waitForEnd: jobs.waitForEnd.bind(jobs),
        cancel: jobs.cancel.bind(jobs),
      };
      const api = app({ jobs: counted });
      const answers = await Promise.all(Array.from({ length: 50 }, () => request(api).get('/healthz')));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(answers[0]?.body).toEqual({ status: 'ok', temporal: 'ok', jobsDatabase: 'ok' });
      expect(checks).toBe(1);

      jobs.answering.jobsDatabase = false;
      const down = await request(app()).get('/healthz');
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBe('2');
      expect(down.body.error).toMatchObject({
        code: 'unavailable',
        message: 'not answering: jobsDatabase',
        details: { temporal: 'ok', jobsDatabase: 'down' },
      });
    });

    it('when /healthz and /openapi.json are read without credentials, then they answer', async () => {
      expect((await request(app()).get('/healthz')).status).toBe(200);
      const spec = await request(app()).get('/openapi.json');
      expect(spec.status).toBe(200);
      expect(spec.body.openapi).toBe('3.1.0');
    });

    it('when the docs page and its assets are read without credentials, then they come from this origin alone', async () => {
      const page = await request(app()).get('/docs');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect(page.text).not.toMatch(/https?:\/\//);
      const bundle = await request(app()).get('/docs/swagger-ui-bundle.js');
      expect(bundle.status).toBe(200);
      expect(bundle.headers['content-type']).toBe('text/javascript; charset=utf-8');
      for (const other of ['/docs/package.json', '/docs/..%2Fpackage.json', '/docs/swagger-ui-bundle.js.map']) {
        const response = await request(app()).get(other);
        expect(response.status).toBe(404);
        expect(response.body.error.code).toBe('not_found');
      }
    });

    it('when requests carry good and bad keys, then no key reaches the log', async () => {
      const { lines, logger } = capturedLog('trace');
      const logged = app({ logger });
      await request(logged).get('/transcript/search?jobStatus=completed').set(bearer('alice'));
      await request(logged).get('/transcript/job-1').set('authorization', 'Bearer wrong-key-ABCDEFGHIJKLMNOP');
      await request(logged)
        .post('/transcribe')
        .set(bearer('ops'))
        .send({ userId: 'bob', audioChunkPaths: ['rec/one.wav'] });
      const log = lines.join('');
      expect(log).toContain('request');
      for (const secret of [KEYS.alice, KEYS.ops, 'wrong-key-ABCDEFGHIJKLMNOP']) expect(log).not.toContain(secret);
    });

    it('when authentication is off, then requests pass without credentials but must name the user', async () => {
      const open = app({ authenticate: undefined });
      const named = await request(open)
        .post('/transcribe')
        .send({ userId: 'zoe', audioChunkPaths: ['rec/one.wav'] });
      expect(named.status).toBe(202);
      const unnamed = await request(open)
        .post('/transcribe')
        .send({ audioChunkPaths: ['rec/one.wav'] });
      expect(unnamed.status).toBe(400);
      expect(unnamed.body.error.details).toEqual([{ field: 'userId', message: expect.any(String) }]);
    });
  });

  describe('tenant isolation', () => {
    it("when a user submits without a userId, then the job is the caller's", async () => {
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav'] });
      expect(response.status).toBe(202);
      expect(jobs.submitted[0]?.userId).toBe('alice');
      expect(admit).toHaveBeenCalledWith('alice', expect.any(String), 1);
    });

    it('when a user names another user in the body or the query, then the answer is 403', async () => {
      const submit = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ userId: 'bob', audioChunkPaths: ['rec/one.wav'] });
      expect(submit.status).toBe(403);
      expect(submit.body.error.details).toEqual([{ field: 'userId', message: expect.any(String) }]);
      const search = await request(app())
        .get('/transcript/search?userId=bob&jobStatus=in_progress')
        .set(bearer('alice'));
      expect(search.status).toBe(403);
      expect(jobs.submitted).toEqual([]);
    });

    it("when a user reads another user's job, then it is a 404 exactly like a job that does not exist", async () => {
      const bobsJob = await submitAs('bob');
      const foreign = await request(app()).get(`/transcript/${bobsJob}`).set(bearer('alice'));
      const missing = await request(app()).get('/transcript/job-999').set(bearer('alice'));
      expect(foreign.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(foreign.body.error.code).toBe(missing.body.error.code);
      expect((await request(app()).get(`/transcript/${bobsJob}`).set(bearer('bob'))).body.userId).toBe('bob');
    });

    it("when an operator reads or searches any user's jobs, then they are answered", async () => {
      const bobsJob = await submitAs('bob');
      expect((await request(app()).get(`/transcript/${bobsJob}`).set(bearer('ops'))).status).toBe(200);
      const search = await request(app()).get('/transcript/search?userId=bob&jobStatus=in_progress').set(bearer('ops'));
      expect(search.status).toBe(200);
      expect(search.body.results).toHaveLength(1);
    });

    it('when an operator submits for another user, then the answer is 403', async () => {
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('ops'))
        .send({ userId: 'bob', audioChunkPaths: ['rec/one.wav'] });
      expect(response.status).toBe(403);
    });
  });

  describe('metrics', () => {
    it('when an operator reads /metrics, then requests are counted by route template, never by job id', async () => {
      const served = app();
      const jobId = await submitAs('alice');
      await request(served).get(`/transcript/${jobId}`).set(bearer('alice'));
      await request(served).get('/transcript/job-404').set(bearer('alice'));
      const response = await request(served).get('/metrics').set(bearer('ops'));
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      expect(response.text).toMatch(
        /transcription_api_requests_total\{method="GET",route="\/transcript\/:jobId",status="200"\} 1/,
      );
      expect(response.text).toMatch(/route="\/transcript\/:jobId",status="404"\} 1/);
      expect(response.text).toContain('transcription_api_request_duration_seconds_bucket');
      expect(response.text).not.toContain('job-404');
    });

    it('when a user who is not an operator reads /metrics, then the answer is 403', async () => {
      expect((await request(app()).get('/metrics').set(bearer('alice'))).status).toBe(403);
      expect((await request(app()).get('/metrics')).status).toBe(401);
    });
  });

  describe('request ids', () => {
    it('when a request comes without an id, then the answer carries a fresh one, and the log line has it and the job id', async () => {
      const { lines, logger } = capturedLog('info');
      const logged = app({ logger });
      const response = await request(logged)
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav'] });
      const requestId = response.headers['x-request-id'];
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const line = JSON.parse(lines.find((entry) => entry.includes('"msg":"request"')) ?? '{}');
      expect(line).toMatchObject({ requestId, jobId: response.body.jobId, status: 202 });
    });

    it('when a client sends a plain request id, then it is kept; a strange one is replaced', async () => {
      const kept = await request(app()).get('/healthz').set('x-request-id', 'client-42.retry:1');
      expect(kept.headers['x-request-id']).toBe('client-42.retry:1');
      const replaced = await request(app()).get('/healthz').set('x-request-id', 'a b "c"');
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('long-polling a job', () => {
    it('when a client waits on a running job, then the answer comes as soon as the job finishes', async () => {
      const jobId = await submitAs('alice');
      const started = Date.now();
      const answer = request(app()).get(`/transcript/${jobId}?wait=15`).set(bearer('alice'));
      setTimeout(() => jobs.complete(jobId, 'hello there'), 200);
      const response = await answer;
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ jobStatus: 'completed', transcription: 'hello there' });
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('when the job does not finish within the wait, then the answer is the job still in progress', async () => {
      const jobId = await submitAs('alice');
      const response = await request(app()).get(`/transcript/${jobId}?wait=1`).set(bearer('alice'));
      expect(response.status).toBe(200);
      expect(response.body.jobStatus).toBe('in_progress');
    });

    it("when a user waits on another user's job, then it is the same 404 as a missing job, at once", async () => {
      const jobId = await submitAs('bob');
      const started = Date.now();
      const response = await request(app()).get(`/transcript/${jobId}?wait=15`).set(bearer('alice'));
      expect(response.status).toBe(404);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('when the wait is out of range or not a number, then the answer is 400 naming it', async () => {
      const jobId = await submitAs('alice');
      for (const wait of ['16', '-1', 'soon']) {
        const response = await request(app()).get(`/transcript/${jobId}?wait=${wait}`).set(bearer('alice'));
        expect(response.status).toBe(400);
        expect(response.body.error.details).toEqual([{ field: 'wait', message: expect.any(String) }]);
      }
    });
  });

  describe('transcript formats', () => {
    it('when a completed job is read with format=txt, then the answer is its transcript alone, as plain text', async () => {
      const jobId = await submitAs('alice');
      jobs.complete(jobId, 'hello there');
      const response = await request(app()).get(`/transcript/${jobId}?format=txt`).set(bearer('alice'));
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(response.text).toBe('hello there\n');
      const asJson = await request(app()).get(`/transcript/${jobId}?format=json`).set(bearer('alice'));
      expect(asJson.body.transcription).toBe('hello there');
    });

    it('when a job in progress is read with format=txt, then the answer is 409; an unknown format is 400', async () => {
      const jobId = await submitAs('alice');
      const running = await request(app()).get(`/transcript/${jobId}?format=txt`).set(bearer('alice'));
      expect(running.status).toBe(409);
      expect(running.body.error.code).toBe('job_not_completed');
      const unknown = await request(app()).get(`/transcript/${jobId}?format=docx`).set(bearer('alice'));
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details).toEqual([{ field: 'format', message: 'must be one of json, txt, srt, vtt' }]);
    });

    it('when a completed job is read with format=srt or vtt, then the answer is subtitles timed across its chunks', async () => {
      const jobId = await submitAs('alice');
      const chunk = (index: number, text: string): ChunkState => ({
        index,
        path: `c${index}.wav`,
        status: 'completed',
        attempts: 1,
        error: null,
        transcript: text,
        durationSeconds: 30,
        segments: [{ startSeconds: 1, endSeconds: 2.5, text }],
      });
      jobs.complete(jobId, 'one two', [chunk(0, 'one'), chunk(1, 'two')]);
      const srt = await request(app()).get(`/transcript/${jobId}?format=srt`).set(bearer('alice'));
      expect(srt.status).toBe(200);
      expect(srt.headers['content-type']).toBe('application/x-subrip; charset=utf-8');
      expect(srt.text).toBe('1\n00:00:01,000 --> 00:00:02,500\none\n\n2\n00:00:31,000 --> 00:00:32,500\ntwo\n');
      const vtt = await request(app()).get(`/transcript/${jobId}?format=vtt`).set(bearer('alice'));
      expect(vtt.headers['content-type']).toBe('text/vtt; charset=utf-8');
      expect(vtt.text).toMatch(/^WEBVTT\n\n00:00:01\.000 --> 00:00:02\.500\none\n/);
    });
  });

  describe('completion callbacks', () => {
    it('when a job names an allowed callback URL, then it is accepted and passed on with the job', async () => {
      const body = { audioChunkPaths: ['rec/one.wav'], callbackUrl: 'https://a.example.org/hook?job=1' };
      const response = await request(app()).post('/transcribe').set(bearer('alice')).send(body);
      expect(response.status).toBe(202);
      expect(jobs.submitted.at(-1)?.callbackUrl).toBe('https://a.example.org/hook?job=1');
    });

    it.each([
      [
        'an origin not on the allow-list',
        'https://internal.corp/hook',
        'https://internal.corp is not an allowed callback origin',
      ],
      ['a loopback address', 'http://127.0.0.1:8080/hook', 'http://127.0.0.1:8080 is not an allowed callback origin'],
      [
        'another port of an allowed host',
        'https://hooks.example.com:8443/hook',
        'https://hooks.example.com:8443 is not an allowed callback origin',
      ],
      [
        'the bare domain of a wildcard',
        'https://example.org/hook',
        'https://example.org is not an allowed callback origin',
      ],
      [
        'plain http to an https origin',
        'http://hooks.example.com/hook',
        'http://hooks.example.com is not an allowed callback origin',
      ],
      ['credentials in the URL', 'https://user:pw@hooks.example.com/hook', 'must not carry credentials'],
      ['not a URL', 'hooks.example.com', 'not a valid URL'],
    ])(
      'when the callback URL is %s, then the job is refused with a 400 naming callbackUrl',
      async (_, callbackUrl, message) => {
        const response = await request(app())
          .post('/transcribe')
          .set(bearer('alice'))
          .send({ audioChunkPaths: ['rec/one.wav'], callbackUrl });
        expect(response.status).toBe(400);
        expect(response.body.error.details).toEqual([{ field: 'callbackUrl', message }]);
        expect(jobs.submitted).toHaveLength(0);
      },
    );

    it('when no callback origin is configured, then any callbackUrl is refused as not enabled', async () => {
      const response = await request(app({ callbackPolicy: new CallbackUrlPolicy([]) }))
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav'], callbackUrl: 'https://hooks.example.com/hook' });
      expect(response.status).toBe(400);
      expect(response.body.error.details).toEqual([
        { field: 'callbackUrl', message: 'callbacks are not enabled on this service' },
      ]);
    });
  });

  describe('cancelling a job', () => {
    it('when the owner or an operator cancels a running job, then the answer is 202 and the job is asked to stop', async () => {
      const mine = await submitAs('alice');
      const response = await request(app()).delete(`/transcript/${mine}`).set(bearer('alice'));
      expect(response.status).toBe(202);
      expect(response.headers.location).toBe(`/transcript/${mine}`);
      expect(response.body).toMatchObject({ jobId: mine, jobStatus: 'in_progress' });
      const bobs = await submitAs('bob');
      expect((await request(app()).delete(`/transcript/${bobs}`).set(bearer('ops'))).status).toBe(202);
      expect(jobs.cancelled).toEqual([mine, bobs]);
    });

    it('when DELETE or OPTIONS reach /transcript/search, then it is the search, which is only read: 405 and Allow', async () => {
      const deleted = await request(app()).delete('/transcript/search').set(bearer('alice'));
      expect(deleted.status).toBe(405);
      expect(deleted.headers.allow).toBe('HEAD, GET');
      expect(deleted.body.error.code).toBe('method_not_allowed');
      const options = await request(app()).options('/transcript/search').set(bearer('alice'));
      expect(options.headers.allow).toBe('HEAD, GET');
      expect(jobs.cancelled).toEqual([]);
    });

    it("when a user cancels another user's job, then it is a 404 and nothing is cancelled", async () => {
      const bobs = await submitAs('bob');
      expect((await request(app()).delete(`/transcript/${bobs}`).set(bearer('alice'))).status).toBe(404);
      expect(jobs.cancelled).toEqual([]);
    });

    it('when the job has already finished, then it is deleted (204), nothing is cancelled, and it reads as missing', async () => {
      const jobId = await submitAs('alice');
      jobs.complete(jobId, 'done');
      const response = await request(app()).delete(`/transcript/${jobId}`).set(bearer('alice'));
      expect(response.status).toBe(204);
      expect(jobs.deleted).toEqual([jobId]);
      expect(jobs.cancelled).toEqual([]);
      expect((await request(app()).get(`/transcript/${jobId}`).set(bearer('alice'))).status).toBe(404);
    });

    it("when a user deletes another user's finished job, then it is a 404 and nothing is deleted", async () => {
      const bobs = await submitAs('bob');
      jobs.complete(bobs, 'done');
      expect((await request(app()).delete(`/transcript/${bobs}`).set(bearer('alice'))).status).toBe(404);
      expect(jobs.deleted).toEqual([]);
    });

    it('when a job is submitted, then its record is written before the answer', async () => {
      const jobId = await submitAs('alice');
      expect(jobs.recorded).toEqual([jobId]);
    });
  });

  describe('audio checked at submission', () => {
    it.each([
      ['a path leaving the root', '../secret.wav', 400, 'invalid_request'],
      ['an absolute path', '/etc/passwd', 400, 'invalid_request'],
      ['a NUL byte', 'rec/one.wav\u0000.txt', 400, 'invalid_request'],
      ['a decomposed (non-NFC) name', 'rec/cafe\u0301.wav', 400, 'invalid_request'],
      ['a symlink out of every space', 'rec/escape.wav', 404, 'audio_not_found'],
      ['a missing file', 'rec/nothing.wav', 404, 'audio_not_found'],
      ["another user's file", 'rec/private.wav', 404, 'audio_not_found'],
      ['a folder', 'rec', 404, 'audio_not_found'],
      ['a text file named .wav', 'rec/notes.wav', 415, 'unsupported_audio'],
      ['a file over the size limit', 'rec/big.wav', 413, 'audio_too_large'],
      ['audio over the duration limit', 'rec/long.wav', 400, 'invalid_audio'],
    ])('when a chunk is %s, then the job is refused with %d naming the chunk', async (_, chunk, status, code) => {
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav', chunk] });
      expect(response.status).toBe(status);
      expect(response.body.error.code).toBe(code);
      expect(response.body.error.details[0].field).toBe('audioChunkPaths[1]');
      expect(jobs.submitted).toEqual([]);
    });

    it("when a user names another user's file, then the answer is exactly the one for a file nobody has", async () => {
      const submit = (chunk: string) =>
        request(app())
          .post('/transcribe')
          .set(bearer('alice'))
          .send({ audioChunkPaths: [chunk] });
      const others = await submit('rec/private.wav');
      const missing = await submit('rec/nothing.wav');
      expect(others.status).toBe(missing.status);
      expect(JSON.stringify(others.body).replaceAll('private', 'X')).toBe(
        JSON.stringify(missing.body).replaceAll('nothing', 'X'),
      );
      expect(others.text).not.toMatch(/bytes|limit|format|seconds/);
    });
  });

  describe('limits', () => {
    it('when the body is over the limit, then the answer is 413', async () => {
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: Array.from({ length: 20 }, () => `rec/${'x'.repeat(300)}.wav`) });
      expect(response.status).toBe(413);
    });

    it('when the URL is absurdly long, then the answer is 414', async () => {
      const response = await request(app())
        .get(`/transcript/${'a'.repeat(3000)}`)
        .set(bearer('alice'));
      expect(response.status).toBe(414);
    });

    it('when a user goes past the request rate, then the answer is 429 with Retry-After, and other users pass', async () => {
      const limited = app({ rateLimiter: new ProcessRateLimiter({ perSecond: 1, burst: 2 }) });
      const statuses = [];
      for (let i = 0; i < 3; i += 1) {
        statuses.push(
          (await request(limited).get('/transcript/search?jobStatus=completed').set(bearer('alice'))).status,
        );
      }
      expect(statuses).toEqual([200, 200, 429]);
      const refused = await request(limited).get('/transcript/search?jobStatus=completed').set(bearer('alice'));
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await request(limited).get('/transcript/search?jobStatus=completed').set(bearer('bob'))).status).toBe(
        200,
      );
    });

    it('when one address keeps sending bad keys, then it gets 429 before its keys are looked at, and its public requests count too', async () => {
      const limited = app({ addressRateLimiter: new ProcessRateLimiter({ perSecond: 0.01, burst: 3 }) });
      const search = (authorization: string) =>
        request(limited).get('/transcript/search?jobStatus=completed').set('authorization', authorization);
      expect((await search('Bearer guess-0123456789abcdef')).status).toBe(401);
      expect((await request(limited).get('/healthz')).status).not.toBe(429);
      // Valid keys spend their user's allowance, not the address's.
      for (let i = 0; i < 5; i += 1) expect((await search(bearer('alice').authorization)).status).toBe(200);
      expect((await search('Bearer guess-1123456789abcdef')).status).toBe(401);
      const refused = await search('Bearer guess-2123456789abcdef');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(1);
      // Spent: even a valid key from that address waits, since it is refused before credentials are checked.
      expect((await search(bearer('alice').authorization)).status).toBe(429);
      expect((await request(limited).get('/healthz')).status).toBe(429);
    });

    it('when the user has too many jobs in flight, then the answer is 429 with Retry-After', async () => {
      admit.mockRejectedValue(new TooManyJobsInFlightError(20, 10));
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav'] });
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('10');
      expect(response.body.error).toMatchObject({ code: 'too_many_jobs', details: { limit: 20 } });
    });

    it('when an answer would take longer than the service promises, then it is a 503 at the limit instead', async () => {
      const stuck = app({
        answerWithinMs: 200,
        jobs: {
          ...jobs,
          get: () => new Promise<never>(() => undefined),
          readableBy: () => new Promise<never>(() => undefined),
          delete: jobs.delete.bind(jobs),
          search: jobs.search.bind(jobs),
          healthChecks: jobs.healthChecks.bind(jobs),
          waitForEnd: jobs.waitForEnd.bind(jobs),
          cancel: jobs.cancel.bind(jobs),
        },
      });
      const response = await request(stuck).get('/transcript/job-1').set(bearer('alice'));
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('timeout');
      expect(response.headers['retry-after']).toBe('2');
    });

    it('when the ASR backlog is full, then new jobs get 503 with Retry-After', async () => {
      admit.mockRejectedValue(new AsrBacklogFullError(15));
      const response = await request(app())
        .post('/transcribe')
        .set(bearer('alice'))
        .send({ audioChunkPaths: ['rec/one.wav'] });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('15');
      expect(response.body.error.code).toBe('backlog_full');
    });
  });
});
