import { createHash } from 'node:crypto';
import { newJobId, requestFingerprint } from '../../src/jobs/idempotency';

const KEY = Buffer.alloc(32, 7);

describe('idempotency', () => {
  it('when a user repeats a key, then the job id is the same; another user or key gives another id', () => {
    expect(newJobId('alice', 'upload-42', KEY)).toBe(newJobId('alice', 'upload-42', KEY));
    expect(newJobId('alice', 'upload-42', KEY)).not.toBe(newJobId('bob', 'upload-42', KEY));
    expect(newJobId('alice', 'upload-42', KEY)).not.toBe(newJobId('alice', 'upload-43', KEY));
    expect(newJobId('alice', 'upload-42', KEY)).toMatch(/^job-[0-9a-f]{32}$/);
  });

  it("when someone knows a user's idempotency key, then they still cannot compute the job id without the server's key", () => {
    // What ids were before: sha256 of the user and the key, computable by anyone.
    const guessable = `job-${createHash('sha256').update('alice\nupload-42').digest('hex').slice(0, 32)}`;
    expect(newJobId('alice', 'upload-42', KEY)).not.toBe(guessable);
    expect(newJobId('alice', 'upload-42', KEY)).not.toBe(newJobId('alice', 'upload-42', Buffer.alloc(32, 8)));
  });

  it('when no key is given, then every job gets a fresh id', () => {
    expect(newJobId('alice', undefined, KEY)).not.toBe(newJobId('alice', undefined, KEY));
  });

  it('when anything a job depends on differs, then the request is not the same one', () => {
    const base = { userId: 'alice', audioChunkPaths: ['a.wav', 'b.wav'] };
    const same = requestFingerprint({ ...base });
    expect(requestFingerprint(base)).toBe(same);
    for (const changed of [
      { ...base, audioChunkPaths: ['b.wav', 'a.wav'] },
      { ...base, userId: 'bob' },
      { ...base, callbackUrl: 'https://hooks.example.com/x' },
      { ...base, retriedFrom: 'job-1' },
    ]) {
      expect(requestFingerprint(changed)).not.toBe(same);
    }
  });
});
