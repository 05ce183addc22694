import path from 'node:path';
import { rm } from 'node:fs/promises';
import { AesGcmPayloadCodec } from '../../src/codec/aes-gcm-payload-codec';
import { generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-keys';
import { openJobsDatabase, type JobsDatabaseSettings } from '../../src/jobs-database/open-jobs-database';
import { tempDir } from './temp-dir';

/** A payload codec with a fresh key, as every process of the service has one. */
export function testCodec(keys: string = generateEncryptionKey('test-key')): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(parseEncryptionKeys(keys));
}

/** A jobs database the tests can open (and open again), and drop at the end. */
export interface TestJobsDatabase {
  name: 'sqlite' | 'postgres';
  settings: JobsDatabaseSettings;
  open(codec?: AesGcmPayloadCodec): ReturnType<typeof openJobsDatabase>;
  cleanup(): Promise<void>;
}

/** The embedded database: a SQLite file of its own in a temp folder. */
export async function sqliteTestDatabase(): Promise<TestJobsDatabase> {
  const dir = await tempDir('jobs-db');
  const settings = { sqliteFile: path.join(dir, 'jobs.sqlite') };
  return {
    name: 'sqlite',
    settings,
    open: (codec = testCodec()) => openJobsDatabase(settings, codec),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
