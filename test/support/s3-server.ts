import { rm } from 'node:fs/promises';
import path from 'node:path';
import { s3ServiceEnv, startS3Proxy, type S3Proxy } from '../../src/storage/s3proxy';
import { tempDir } from './temp-dir';

const TOOLS_DIR = path.resolve(process.env.TEMPORAL_TOOLS_DIR ?? path.join(__dirname, '..', '..', '.tools'));

export interface TestS3 extends S3Proxy {
  /** The service's settings for this server (`AUDIO_STORE=s3://audio-test/`, `S3_ENDPOINT`, keys, ...). */
  env: Record<string, string>;
}

/**
 * A real S3 server for one test file: the pinned s3proxy on a free loopback port, storing in a fresh temp dir that
 * `stop()` removes.
 */
export async function startTestS3(): Promise<TestS3> {
  const dir = await tempDir('s3');
  const s3 = await startS3Proxy({ toolsDir: TOOLS_DIR, basedir: path.join(dir, 's3'), port: 0, bucket: 'audio-test' });
  return {
    ...s3,
    env: s3ServiceEnv(s3),
    stop: async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
