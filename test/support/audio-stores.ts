import path from 'node:path';
import { AudioStore, type AudioStoreOptions } from '../../src/storage/audio-store';
import { LocalAudioObjects } from '../../src/storage/local-audio-objects';

/** The service's audio store over a local folder, per-user layout, with limits a test may override. */
export function localAudioStore(root: string, options: Partial<AudioStoreOptions> = {}): AudioStore {
  return new AudioStore(new LocalAudioObjects(root), {
    layout: 'per-user',
    maxChunkBytes: 5 * 1024 * 1024,
    maxChunkSeconds: 300,
    uploadRetentionMs: 72 * 3_600_000,
    spoolDir: path.join(path.dirname(root), `${path.basename(root)}-spool`),
    ...options,
  });
}
