import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AudioFileError, AudioStore } from '../../src/storage/audio-store';
import { tempDir, writeChunk } from '../support/temp-dir';

describe('AudioStore', () => {
  let base: string;
  let root: string;
  let store: AudioStore;

  beforeAll(async () => {
    base = await tempDir('audio-store');
    root = path.join(base, 'audio');
    await mkdir(root);
    store = new AudioStore({ root, maxChunkBytes: 4096, maxChunkSeconds: 300 });
    await writeChunk(root, 'ok/chunk.wav', { bytes: 1000 });
    await writeChunk(root, 'big.wav', { bytes: 5000 });
    await writeFile(path.join(base, 'outside.wav'), 'secret');
    await symlink(path.join(base, 'outside.wav'), path.join(root, 'escape.wav'));
    await symlink(path.join(root, 'ok', 'chunk.wav'), path.join(root, 'inside-link.wav'));
  });

  it('when a chunk is inside the root, then it opens with its size and relative name', async () => {
    const audio = await store.open('ok/chunk.wav');
    expect(audio).toMatchObject({ name: 'ok/chunk.wav', size: 1000 });
    expect((await audio.file.arrayBuffer()).byteLength).toBe(1000);
  });

  it('when a symlink points elsewhere inside the root, then it is followed', async () => {
    await expect(store.open('inside-link.wav')).resolves.toMatchObject({ size: 1000 });
  });

  it.each([
    ['missing.wav', /no such file/],
    ['big.wav', /5000 bytes, over the limit of 4096/],
    ['escape.wav', /outside the audio root/],
    ['../outside.wav', /leaves the audio root/],
    ['ok', /not a regular file/],
  ])('when the chunk is %j, then it fails with an AudioFileError', async (chunkPath, reason) => {
    const opened = store.open(chunkPath);
    await expect(opened).rejects.toThrow(AudioFileError);
    await expect(opened).rejects.toThrow(reason);
  });
});
