import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { userSpace, type AudioKey } from '../../src/storage/audio-paths';
import { AudioObjectChangedError, type AudioObjects } from '../../src/storage/audio-objects';
import { AudioFileError, AudioStore } from '../../src/storage/audio-store';
import { LocalAudioObjects } from '../../src/storage/local-audio-objects';
import { S3AudioObjects } from '../../src/storage/s3-audio-objects';
import { startTestS3, type TestS3 } from '../support/s3-server';
import { chunkBytes, tempDir } from '../support/temp-dir';

const HOUR_MS = 3_600_000;
const LIMIT_BYTES = 64 * 1024;

/** Puts bytes at a key through the store itself, as an operator or an earlier upload would have. */
async function put(objects: AudioObjects, key: AudioKey, bytes: Buffer): Promise<void> {
  const file = path.join(await tempDir('put'), 'file');
  await writeFile(file, bytes);
  await objects.putFile(key, file, bytes.length);
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

interface StoreUnderTest {
  objects: AudioObjects;
  spool: string;
  /** Moves the clock the store uses for expiry. */
  clock: { now: number };
  store(options?: { layout?: 'per-user' | 'shared' }): AudioStore;
}

async function storeUnderTest(kind: 'local' | 's3', s3: () => TestS3): Promise<StoreUnderTest> {
  const dir = await tempDir(`store-${kind}`);
  const objects =
    kind === 'local'
      ? new LocalAudioObjects(path.join(dir, 'audio'))
      : new S3AudioObjects({
          bucket: s3().bucket,
          prefix: `contract-${path.basename(dir)}`,
          endpoint: s3().endpoint,
          region: s3().region,
          accessKeyId: s3().accessKeyId,
          secretAccessKey: s3().secretAccessKey,
          forcePathStyle: true,
        });
  if (kind === 'local') await mkdir(path.join(dir, 'audio'));
  const clock = { now: Date.now() };
  const spool = path.join(dir, 'spool');
  return {
    objects,
    spool,
    clock,
    store: (options = {}) =>
      new AudioStore(objects, {
        layout: options.layout ?? 'per-user',
        maxChunkBytes: LIMIT_BYTES,
        maxChunkSeconds: 300,
        uploadRetentionMs: 72 * HOUR_MS,
        spoolDir: spool,
        now: () => clock.now,
      }),
  };
}

/**
 * The audio store's contract, run on both stores: the local folder and a real S3 server (s3proxy). What a user can
 * read, upload, list, delete and lose to expiry must not depend on where the service keeps audio.
 */
describe.each(['local', 's3'] as const)('the %s audio store', (kind) => {
  let s3: TestS3 | undefined;
  let subject: StoreUnderTest;
  let store: AudioStore;
  const alice = (name: string): AudioKey => ({ space: userSpace('alice'), path: name });

  beforeAll(async () => {
    if (kind === 's3') s3 = await startTestS3();
    subject = await storeUnderTest(kind, () => s3 as TestS3);
    store = subject.store();
    await put(subject.objects, alice('talk/part-1.wav'), chunkBytes({ transcript: 'one' }));
    await put(subject.objects, alice('notes.txt'), Buffer.from('not audio'));
  }, 120_000);

  afterAll(async () => {
    await subject?.objects.close();
    await s3?.stop();
  });

  it('when a user opens a file in their space, then it is checked and streams exactly the stored bytes', async () => {
    const chunk = await store.open('alice', 'talk/part-1.wav');
    try {
      expect(chunk).toMatchObject({ name: 'talk/part-1.wav', size: chunkBytes({ transcript: 'one' }).length });
      expect(chunk.audio.format).toBe('wav');
      expect(await readAll(chunk.stream())).toEqual(chunkBytes({ transcript: 'one' }));
    } finally {
      await chunk.close();
    }
  });

  it("when a user names another user's file, a folder, or nothing, then every answer is the same not_found", async () => {
    const answers = await Promise.all(
      [
        ['bob', 'talk/part-1.wav'],
        ['alice', 'talk'],
        ['alice', 'talk/missing.wav'],
        ['mallory', 'talk/part-1.wav'],
      ].map(([user, name]) =>
        store.inspect(user as string, name as string).then(
          () => undefined,
          (err: unknown) => err,
        ),
      ),
    );
    for (const [index, answer] of answers.entries()) {
      expect(answer).toBeInstanceOf(AudioFileError);
      expect(answer).toMatchObject({ problem: 'not_found' });
      const name = ['talk/part-1.wav', 'talk', 'talk/missing.wav', 'talk/part-1.wav'][index];
      expect((answer as Error).message).toBe(`${name}: no such audio file in your audio space`);
    }
  });

  it('when an owned file is not audio, then the owner is told so (and only the owner)', async () => {
    await expect(store.inspect('alice', 'notes.txt')).rejects.toMatchObject({ problem: 'unsupported_format' });
    await expect(store.inspect('bob', 'notes.txt')).rejects.toMatchObject({ problem: 'not_found' });
  });

  it('when a file is uploaded, then it lands in uploads/ with its format, duration and expiry, ready to name in a job', async () => {
    const uploaded = await store.upload('carol', Readable.from([chunkBytes({ transcript: 'hello' })]), {
      name: 'standup.wav',
    });
    expect(uploaded).toMatchObject({ bytes: chunkBytes({ transcript: 'hello' }).length, format: 'wav' });
    expect(uploaded.path).toMatch(/^uploads\/[0-9a-z]{26}-standup\.wav$/);
    expect(uploaded.durationSeconds).toBeCloseTo(0.1);
    expect(Date.parse(uploaded.expiresTime)).toBeGreaterThan(Date.now() + 71 * HOUR_MS);
    await expect(store.inspect('carol', uploaded.path)).resolves.toMatchObject({ size: uploaded.bytes });
    await expect(store.inspect('dave', uploaded.path)).rejects.toMatchObject({ problem: 'not_found' });
    const unnamed = await store.upload('carol', Readable.from([chunkBytes()]));
    expect(unnamed.path).toMatch(/^uploads\/[0-9a-z]{26}\.wav$/);
  });

  it.each([
    ['over the size limit', () => Readable.from([chunkBytes({ bytes: LIMIT_BYTES + 1 })]), 'too_large'],
    ['not audio', () => Readable.from([Buffer.from('plain text, not a recording')]), 'unsupported_format'],
  ])('when an upload is %s, then it is refused and nothing is left behind', async (_, body, problem) => {
    await expect(store.upload('erin', body(), { name: 'bad.wav' })).rejects.toMatchObject({ problem });
    expect((await store.list('erin', { prefix: '', limit: 100 })).files).toEqual([]);
    expect(await readdir(subject.spool)).toEqual([]);
  });

  it('when a user pages through their files, then each comes exactly once, in path order, and only theirs', async () => {
    const names = ['a.wav', 'b/c.wav', 'b/d.wav', 'e.wav', 'z.wav'];
    for (const name of names) await put(subject.objects, { space: userSpace('frank'), path: name }, chunkBytes());
    await put(subject.objects, { space: userSpace('frankie'), path: 'a.wav' }, chunkBytes());
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await store.list('frank', { prefix: '', limit: 2, pageToken });
      expect(page.files.length).toBeLessThanOrEqual(2);
      seen.push(...page.files.map((file) => file.path));
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    expect(seen).toEqual(names);
    expect((await store.list('frank', { prefix: 'b/', limit: 10 })).files.map((file) => file.path)).toEqual([
      'b/c.wav',
      'b/d.wav',
    ]);
  });

  it("when a user deletes a file, then it is gone; another's file cannot be deleted and reads as missing", async () => {
    await put(subject.objects, { space: userSpace('gina'), path: 'old.wav' }, chunkBytes());
    await expect(store.remove('henry', 'old.wav')).rejects.toMatchObject({ problem: 'not_found' });
    await store.remove('gina', 'old.wav');
    await expect(store.inspect('gina', 'old.wav')).rejects.toMatchObject({ problem: 'not_found' });
    await expect(store.remove('gina', 'old.wav')).rejects.toMatchObject({ problem: 'not_found' });
  });

  it("when uploads pass their retention, then they are removed, except a busy user's; other files stay", async () => {
    const expiring = subject.store();
    const old = await expiring.upload('ivan', Readable.from([chunkBytes()]), { name: 'old.wav' });
    const busy = await expiring.upload('judy', Readable.from([chunkBytes()]), { name: 'running.wav' });
    await put(subject.objects, { space: userSpace('ivan'), path: 'kept/forever.wav' }, chunkBytes());
    subject.clock.now = Date.now() + 73 * HOUR_MS;
    try {
      const fresh = await expiring.upload('ivan', Readable.from([chunkBytes()]), { name: 'new.wav' });
      const result = await expiring.expireUploads((key) => key.space === userSpace('judy'));
      expect(result.kept).toBe(1);
      expect(result.removed).toBeGreaterThanOrEqual(1);
      await expect(expiring.inspect('ivan', old.path)).rejects.toMatchObject({ problem: 'not_found' });
      await expect(expiring.inspect('judy', busy.path)).resolves.toBeDefined();
      await expect(expiring.inspect('ivan', 'kept/forever.wav')).resolves.toBeDefined();
      // The fresh one was stored by the real clock, 73 h before the store's: only the retention decides.
      expect(fresh.path).toMatch(/new\.wav$/);
    } finally {
      subject.clock.now = Date.now();
    }
  });

  it('when a file is replaced after it was opened, then what streams is the checked version or a failure, never a mix', async () => {
    const key = alice('replaced.wav');
    await put(subject.objects, key, chunkBytes({ transcript: 'first version' }));
    const chunk = await store.open('alice', 'replaced.wav');
    try {
      await put(subject.objects, key, chunkBytes({ transcript: 'second version, longer than the first' }));
      const outcome = await readAll(chunk.stream()).then(
        (bytes) => bytes,
        (err: unknown) => err,
      );
      if (kind === 's3') expect(outcome).toBeInstanceOf(AudioObjectChangedError);
      else expect(outcome).toEqual(chunkBytes({ transcript: 'first version' }));
    } finally {
      await chunk.close();
    }
  });

  it('when a direct upload URL is asked for, then only the S3 store signs one, for exactly the size given', async () => {
    const bytes = chunkBytes({ transcript: 'direct' });
    if (kind === 'local') {
      await expect(store.presignUpload('kim', { bytes: bytes.length, expiresInSeconds: 60 })).resolves.toBeUndefined();
      return;
    }
    await expect(store.presignUpload('kim', { bytes: LIMIT_BYTES + 1, expiresInSeconds: 60 })).rejects.toMatchObject({
      problem: 'too_large',
    });
    const signed = await store.presignUpload('kim', { name: 'direct.wav', bytes: bytes.length, expiresInSeconds: 60 });
    if (!signed) throw new Error('the S3 store signed no URL');
    const wrongSize = await fetch(signed.url, { method: 'PUT', body: Buffer.concat([bytes, Buffer.alloc(10)]) });
    expect(wrongSize.status).toBe(403);
    const stored = await fetch(signed.url, { method: 'PUT', body: bytes, headers: signed.headers });
    expect(stored.status).toBe(200);
    await expect(store.inspect('kim', signed.path)).resolves.toMatchObject({ size: bytes.length });
  });
});

/** What only a folder on disk can be made to do: links and special files planted in the tree. */
describe('the local audio store against planted files', () => {
  let root: string;
  let store: AudioStore;
  const space = (user: string) => path.join(root, userSpace(user));

  beforeAll(async () => {
    const dir = await tempDir('store-planted');
    root = path.join(dir, 'audio');
    await mkdir(space('alice'), { recursive: true });
    await mkdir(space('bob'), { recursive: true });
    await writeFile(path.join(space('bob'), 'secret.wav'), chunkBytes({ transcript: "bob's secret" }));
    await writeFile(path.join(dir, 'outside.wav'), chunkBytes({ transcript: 'outside every space' }));
    await writeFile(path.join(space('alice'), 'mine.wav'), chunkBytes({ transcript: 'mine' }));
    await symlink(path.join(space('bob'), 'secret.wav'), path.join(space('alice'), 'bobs.wav'));
    await symlink(path.join(dir, 'outside.wav'), path.join(space('alice'), 'outside.wav'));
    await symlink(path.join(space('alice'), 'mine.wav'), path.join(space('alice'), 'alias.wav'));
    execFileSync('mkfifo', [path.join(space('alice'), 'pipe.wav')]);
    store = new AudioStore(new LocalAudioObjects(root), {
      layout: 'per-user',
      maxChunkBytes: LIMIT_BYTES,
      maxChunkSeconds: 300,
      uploadRetentionMs: HOUR_MS,
      spoolDir: path.join(dir, 'spool'),
    });
  });

  it.each(['bobs.wav', 'outside.wav', 'pipe.wav'])(
    'when a path is a link out of the space or not a regular file (%s), then it reads as missing, at once',
    async (name) => {
      const started = Date.now();
      await expect(store.inspect('alice', name)).rejects.toMatchObject({
        problem: 'not_found',
        message: `${name}: no such audio file in your audio space`,
      });
      expect(Date.now() - started).toBeLessThan(5000);
    },
  );

  it.each(['../bob/secret.wav', '/etc/passwd'])(
    'when a path would leave the space (%s), then it is refused as invalid before any lookup',
    async (name) => {
      await expect(store.inspect('alice', name)).rejects.toMatchObject({ problem: 'invalid_path' });
    },
  );

  it('when a file is over the size limit, then its owner is told its size', async () => {
    await writeFile(path.join(space('alice'), 'big.wav'), chunkBytes({ bytes: LIMIT_BYTES + 100 }));
    await expect(store.inspect('alice', 'big.wav')).rejects.toThrow(
      `big.wav is ${LIMIT_BYTES + 100} bytes, over the limit of ${LIMIT_BYTES}`,
    );
    await expect(store.inspect('bob', 'big.wav')).rejects.toMatchObject({ problem: 'not_found' });
  });

  it('when a link stays inside the space, then it is followed', async () => {
    await expect(store.inspect('alice', 'alias.wav')).resolves.toMatchObject({ path: 'alias.wav' });
  });

  it('when the file is swapped for a link out of the space after the check, then the checked file is what streams', async () => {
    const chunk = await store.open('alice', 'mine.wav');
    try {
      const swapped = path.join(space('alice'), 'swap.tmp');
      await symlink(path.join(space('bob'), 'secret.wav'), swapped);
      await rename(swapped, path.join(space('alice'), 'mine.wav'));
      expect(await text(Readable.fromWeb(chunk.stream() as import('node:stream/web').ReadableStream))).toContain(
        'mine',
      );
    } finally {
      await chunk.close();
    }
  });
});
