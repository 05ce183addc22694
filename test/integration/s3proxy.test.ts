import {
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { freePort } from '../../src/process/free-port';
import { startTestS3, type TestS3 } from '../support/s3-server';

jest.mock('../../src/process/free-port', () => {
  const actual = jest.requireActual<typeof import('../../src/process/free-port')>('../../src/process/free-port');
  return { freePort: jest.fn(actual.freePort) };
});

function clientFor(s3: TestS3, secretAccessKey = s3.secretAccessKey): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
    forcePathStyle: true,
    maxAttempts: 1,
  });
}

async function statusOf(request: Promise<unknown>): Promise<number | undefined> {
  try {
    await request;
    return 200;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode;
    throw err;
  }
}

describe('the local S3 server (s3proxy)', () => {
  let s3: TestS3;
  let client: S3Client;
  const body = randomBytes(64 * 1024);

  beforeAll(async () => {
    s3 = await startTestS3();
    client = clientFor(s3);
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'chunks/one.bin', Body: body }));
  });

  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('when started, then it hands out the env lines that point the service at its bucket', () => {
    expect(s3.env).toEqual({
      AUDIO_STORE: 's3://audio-test/',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('when an object is PUT, then a GET returns the same bytes and a listing shows it', async () => {
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'chunks/one.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'chunks/' }));
    expect(listed.Contents?.map((object) => [object.Key, object.Size])).toEqual([['chunks/one.bin', body.length]]);
  });

  it('when a byte range is asked for, then only those bytes come back, as a 206', async () => {
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: 'chunks/one.bin', Range: 'bytes=100-1123' }),
    );
    expect(got.$metadata.httpStatusCode).toBe(206);
    expect(got.ContentRange).toBe(`bytes 100-1123/${body.length}`);
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body.subarray(100, 1124));
  });

  it('when a request is signed with a wrong secret, then it is refused with 403', async () => {
    const wrong = clientFor(s3, `${s3.secretAccessKey.slice(0, -1)}${s3.secretAccessKey.endsWith('A') ? 'B' : 'A'}`);
    try {
      expect(await statusOf(wrong.send(new ListBucketsCommand({})))).toBe(403);
      expect(await statusOf(wrong.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'chunks/one.bin' })))).toBe(403);
    } finally {
      wrong.destroy();
    }
  });

  it('when a presigned GET URL is tampered with, then it is refused with 403 while the genuine one works', async () => {
    const url = new URL(
      await getSignedUrl(client, new GetObjectCommand({ Bucket: s3.bucket, Key: 'chunks/one.bin' }), { expiresIn: 60 }),
    );
    const genuine = await fetch(url);
    expect(genuine.status).toBe(200);
    expect(Buffer.from(await genuine.arrayBuffer())).toEqual(body);

    const signature = url.searchParams.get('X-Amz-Signature')!;
    const forged = new URL(url);
    forged.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    expect((await fetch(forged)).status).toBe(403);

    const otherObject = new URL(url);
    otherObject.pathname = otherObject.pathname.replace('one.bin', 'two.bin');
    expect((await fetch(otherObject)).status).toBe(403);
  });

  it('when the port it was given is taken before s3proxy binds it, then it starts again on another port', async () => {
    const squatter: Server = createServer();
    const taken = await freePort();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    jest.mocked(freePort).mockClear().mockResolvedValueOnce(taken);
    const second = await startTestS3();
    try {
      expect(jest.mocked(freePort)).toHaveBeenCalledTimes(2);
      expect(second.endpoint).not.toBe(`http://127.0.0.1:${taken}`);
      const secondClient = clientFor(second);
      const buckets = await secondClient.send(new ListBucketsCommand({}));
      secondClient.destroy();
      expect(buckets.Buckets?.map((bucket) => bucket.Name)).toEqual(['audio-test']);
    } finally {
      await second.stop();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('when stop() is called, then the process and its group are gone and the port refuses connections', async () => {
    const doomed = await startTestS3();
    await doomed.stop();
    await expect(doomed.exited).resolves.toEqual(expect.any(Number));
    // Signal 0 probes for any process left in s3proxy's process group (the guard, the JVM, the guard's watcher).
    expect(() => process.kill(-doomed.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(fetch(doomed.endpoint)).rejects.toThrow();
  });
});
