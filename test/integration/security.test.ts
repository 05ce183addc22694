import { temporal } from '@temporalio/proto';
import jwt from 'jsonwebtoken';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSchemathesis } from '../support/schemathesis';
import { PROJECT_ROOT, ServiceStack, pollUntil } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

const execFileAsync = promisify(execFile);
const JWT_SECRET = randomBytes(32).toString('base64');
const UI_ORIGIN = 'http://127.0.0.1:8233';

/** The text of every payload in the CLI's JSON rendering of a history, where payload data is base64. */
function payloadTexts(node: unknown): string {
  if (Array.isArray(node)) return node.map(payloadTexts).join('\n');
  if (!node || typeof node !== 'object') return '';
  return Object.entries(node)
    .map(([key, value]) =>
      key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString() : payloadTexts(value),
    )
    .join('\n');
}

/** Every byte Temporal keeps of a job: its whole history, as stored. */
async function rawHistory(stack: ServiceStack, jobId: string): Promise<Buffer> {
  const history = await stack.temporal.workflow.getHandle(jobId).fetchHistory();
  return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
}

/**
 * The security rules on the real service: the dev server, worker processes, the ASR simulator and the API over
 * HTTP, with API keys and JWTs, encrypted payloads and small limits so each can be reached.
 */
describe('security on the real service', () => {
  let stack: ServiceStack;

  beforeAll(async () => {
    stack = await ServiceStack.start({
      env: {
        AUTH_METHODS: 'api-key,jwt',
        JWT_HS256_SECRET: JWT_SECRET,
        JWT_ISSUER: 'https://login.example.test',
        JWT_AUDIENCE: 'transcription-api',
        CODEC_CORS_ORIGINS: UI_ORIGIN,
        MAX_JOBS_IN_FLIGHT_PER_USER: '3',
        ASR_BACKLOG_LIMIT: '4',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '2',
        RATE_LIMIT_PER_SECOND: '1000',
        RATE_LIMIT_BURST: '1000',
        // The fuzzer's requests without credentials all come from this one address.
        RATE_LIMIT_PER_ADDRESS_PER_SECOND: '1000',
        RATE_LIMIT_PER_ADDRESS_BURST: '1000',
      },
    });
    for (let index = 1; index <= 3; index += 1) {
      await stack.writeChunk(`talk/part-${index}.wav`, { transcript: `confidential words ${index}` });
    }
    for (let index = 1; index <= 8; index += 1) await stack.writeChunk(`slow/part-${index}.wav`);
    await stack.writeChunk('later/changed.wav');
    // The document's examples name the example recording: with it present, the fuzzer's examples start real jobs.
    for (const part of ['part-1.wav', 'part-2.wav', 'part-3.wav']) {
      await stack.putAudio(
        `example/${part}`,
        await readFile(path.join(PROJECT_ROOT, 'examples', 'audio', 'example', part)),
      );
    }
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when a chunk file is replaced by text after submission, then the worker fails that chunk once, without retries', async () => {
    const jobId = await stack.submit('dave', ['later/changed.wav']);
    await stack.putAudio('later/changed.wav', Buffer.from('not audio any more'), ['dave']);
    await stack.startWorker();
    const job = await stack.waitForJob(jobId);
    expect(job.jobStatus).toBe('failed');
    expect(job.chunks[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(job.chunks[0].error).toMatch(/not a supported audio format/);
  });

  it('when a job completes, then its raw history holds no transcript and no chunk path, yet the API reads it', async () => {
    const jobId = await stack.submit('alice', ['talk/part-1.wav', 'talk/part-2.wav']);
    const job = await stack.waitForJob(jobId);
    expect(job.transcription).toBe('confidential words 1 confidential words 2');

    const stored = await rawHistory(stack, jobId);
    expect(stored.includes('confidential words')).toBe(false);
    expect(stored.includes('talk/part-1.wav')).toBe(false);
    expect(stored.includes('binary/encrypted')).toBe(true);
  });

  it('when the Web UI asks the codec endpoint, then operators get plaintext and everyone else is refused', async () => {
    const jobId = await stack.submit('alice', ['talk/part-3.wav']);
    await stack.waitForJob(jobId);
    const history = await stack.temporal.workflow.getHandle(jobId).fetchHistory();
    const completed = history.events?.find((event) => event.activityTaskCompletedEventAttributes);
    const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    const body = {
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(payload?.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
          ),
          data: Buffer.from(payload?.data ?? []).toString('base64'),
        },
      ],
    };
    const headers = { 'x-namespace': 'default', origin: UI_ORIGIN };

    const decoded = await stack.request('POST', '/codec/decode', body, { ...stack.auth('ops'), ...headers });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(Buffer.from(decoded.json.payloads[0].data, 'base64').toString()).toContain('confidential words 3');

    expect((await stack.request('POST', '/codec/decode', body, { ...stack.auth('alice'), ...headers })).status).toBe(
      403,
    );
    expect((await stack.request('POST', '/codec/decode', body, { authorization: '', ...headers })).status).toBe(401);

    const preflight = await fetch(`${stack.apiUrl}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-namespace',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);

    // Temporal's own CLI speaks the same protocol: with the endpoint and an operator key it shows the plaintext.
    const show = async (...codec: string[]) => {
      const { stdout } = await execFileAsync(
        path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal'),
        ['workflow', 'show', '-w', jobId, '--address', stack.devServer.address, '--output', 'json', ...codec],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      return payloadTexts(JSON.parse(stdout));
    };
    expect(await show()).not.toContain('confidential words 3');
    const decodedByCli = await show(
      '--codec-endpoint',
      `${stack.apiUrl}/codec`,
      '--codec-auth',
      `Bearer ${stack.apiKeys.ops}`,
    );
    expect(decodedByCli).toContain('confidential words 3');
  });

  it("when a client presents a JWT from the configured issuer, then it acts as its subject under the issuer's name, never as the API key user of that name; expired or forged, 401", async () => {
    const sign = (secret: string) =>
      jwt.sign({}, secret, {
        algorithm: 'HS256',
        issuer: 'https://login.example.test',
        audience: 'transcription-api',
        subject: 'alice',
        expiresIn: '5m',
      });
    const valid = await stack.request('GET', '/transcript/search?jobStatus=completed', undefined, {
      authorization: `Bearer ${sign(JWT_SECRET)}`,
    });
    expect(valid.status).toBe(200);
    // The token's alice is jwt:login.example.test:alice: the API key's alice and her jobs are someone else.
    expect(valid.json.results).toEqual([]);
    const keyAlice = await stack.request(
      'GET',
      '/transcript/search?jobStatus=completed',
      undefined,
      stack.auth('alice'),
    );
    expect(keyAlice.json.results.length).toBeGreaterThan(0);
    const namingKeyAlice = await stack.request(
      'GET',
      '/transcript/search?jobStatus=completed&userId=alice',
      undefined,
      {
        authorization: `Bearer ${sign(JWT_SECRET)}`,
      },
    );
    expect(namingKeyAlice.status).toBe(403);

    const expired = jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 }, JWT_SECRET, {
      algorithm: 'HS256',
      issuer: 'https://login.example.test',
      audience: 'transcription-api',
    });
    const forged = sign(randomBytes(32).toString('base64'));
    for (const token of [expired, forged]) {
      const response = await stack.request('GET', '/transcript/search?jobStatus=completed', undefined, {
        authorization: `Bearer ${token}`,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/invalid_token/);
    }
  });

  it('when a user has as many jobs in flight as allowed, then the next one is refused with 429 until one finishes', async () => {
    for (let index = 1; index <= 3; index += 1) {
      stack.simulator.script(`talk/part-${index}.wav`, [{ status: 200, body: { text: 'slow' }, delayMs: 4000 }]);
    }
    const jobIds = [];
    for (let index = 1; index <= 3; index += 1) jobIds.push(await stack.submit('erin', [`talk/part-${index}.wav`]));
    await pollUntil(
      () => stack.request('GET', '/transcript/search?jobStatus=in_progress', undefined, stack.auth('erin')),
      (reply) => reply.json.results.length === 3,
    );
    const refused = await stack.request(
      'POST',
      '/transcribe',
      { audioChunkPaths: ['talk/part-1.wav'] },
      stack.auth('erin'),
    );
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json.error.code).toBe('too_many_jobs');

    for (const jobId of jobIds) await stack.waitForJob(jobId);
    await pollUntil(
      () => stack.request('POST', '/transcribe', { audioChunkPaths: ['talk/part-1.wav'] }, stack.auth('erin')),
      (reply) => reply.status === 202,
    );
  });

  it('when Schemathesis fuzzes every operation from /openapi.json, then nothing breaks the spec, no 5xx, and the service stays healthy', async () => {
    const result = await runSchemathesis({
      specUrl: `${stack.apiUrl}/openapi.json`,
      // An operator reaches every operation, the codec endpoint included.
      bearerToken: stack.apiKeys.ops,
      maxExamples: 200,
      excludeChecks: {
        // A request can match the schema and still name a file that is not on disk, or a page token this service
        // never issued: client errors (400) no schema can express. Everything else is checked.
        positive_data_acceptance: 'files and page tokens are checked against the world, not the schema',
      },
      seed: 20261124,
      reportDir: await tempDir('schemathesis'),
      timeoutMs: 8 * 60_000,
    });
    if (result.exitCode !== 0) throw new Error(`Schemathesis found problems:\n${result.output}`);
    expect(result.operations).toBe(21);
    expect(result.requests).toBeGreaterThanOrEqual(2000);
    expect((await stack.request('GET', '/healthz')).status).toBe(200);
  }, 600_000);

  it('when more chunks wait for the ASR than the backlog limit, then new jobs get 503 with Retry-After', async () => {
    const slow = Array.from({ length: 8 }, (_, index) => `slow/part-${index + 1}.wav`);
    for (const chunk of slow) stack.simulator.script(chunk, [{ status: 200, body: { text: 'slow' }, delayMs: 20_000 }]);
    const flooding = await stack.submit('frank', slow);
    const refused = await pollUntil(
      () => stack.request('POST', '/transcribe', { audioChunkPaths: ['talk/part-2.wav'] }, stack.auth('carol')),
      (reply) => reply.status === 503,
      30_000,
    );
    expect(refused.json.error.code).toBe('backlog_full');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await stack.temporal.workflow.getHandle(flooding).terminate('backlog test done');
  });
});
