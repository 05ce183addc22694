import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../config/config';
import type { AudioObjects } from './audio-objects';
import { AudioStore } from './audio-store';
import { LocalAudioObjects } from './local-audio-objects';
import { S3AudioObjects } from './s3-audio-objects';

/** The store the configuration names: the S3 bucket of AUDIO_STORE, or the local folder AUDIO_ROOT. */
export function createAudioObjects(audio: Config['audio']): AudioObjects {
  if (!audio.store) return new LocalAudioObjects(audio.root);
  const { s3 } = audio;
  return new S3AudioObjects({
    bucket: audio.store.bucket,
    prefix: audio.store.prefix,
    endpoint: s3.endpoint,
    publicEndpoint: s3.publicEndpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey ?? readSecretFile(s3.secretAccessKeyFile),
    forcePathStyle: s3.forcePathStyle,
  });
}

/** The users' audio, on the configured store: one construction for the API and the worker alike. */
export function createAudioStore(audio: Config['audio']): AudioStore {
  return new AudioStore(createAudioObjects(audio), {
    layout: audio.layout,
    maxChunkBytes: audio.maxChunkBytes,
    maxChunkSeconds: audio.maxChunkSeconds,
    uploadRetentionMs: audio.uploadRetentionHours * 3_600_000,
    spoolDir: audio.spoolDir,
  });
}

function readSecretFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([
      `S3_SECRET_ACCESS_KEY_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    ]);
  }
}
