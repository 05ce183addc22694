import { constants, type Dirent } from 'node:fs';
import {
  copyFile,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ulid } from 'ulid';
import { storeName, type AudioKey } from './audio-paths';
import {
  AudioObjectMissingError,
  compareStoreOrder,
  type AudioObjects,
  type ListOptions,
  type OpenedAudio,
  type StoredAudio,
} from './audio-objects';

/** Files being moved into place are written under this name first, and never listed or opened by their users. */
const PARTIAL_PREFIX = '.incoming-';

/**
 * Audio files in a folder: `<root>/<space>/<path>`. A key is opened only if it resolves, symlinks included, to a
 * regular file inside its own space, and is then read only through the descriptor that was checked: nothing is
 * opened twice by path, so a symlink or FIFO swapped in after the check is never read.
 */
export class LocalAudioObjects implements AudioObjects {
  readonly kind = 'local';

  constructor(private readonly root: string) {}

  async open(key: AudioKey): Promise<OpenedAudio> {
    const jail = await this.realJail(key.space);
    let realPath: string;
    try {
      realPath = await realpath(path.join(jail, key.path));
    } catch {
      throw new AudioObjectMissingError();
    }
    if (!isInside(jail, realPath)) throw new AudioObjectMissingError();
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the real path has no symlink left in its last component, so one appearing there is an attack.
      // O_NONBLOCK: a FIFO planted in the space would otherwise hang the open, and the worker's event loop, forever.
      handle = await open(realPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      throw new AudioObjectMissingError();
    }
    try {
      const info = await handle.stat();
      if (!info.isFile() || !(await openedInside(handle, jail))) throw new AudioObjectMissingError();
      return openedFile(handle, info.size, info.mtime, `${info.ino.toString(36)}-${info.size}-${info.mtimeMs}`);
    } catch (err) {
      await handle.close();
      if (err instanceof AudioObjectMissingError) throw err;
      throw new AudioObjectMissingError();
    }
  }

  async putFile(key: AudioKey, file: string, size: number): Promise<StoredAudio> {
    const target = path.join(this.root, storeName(key));
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await rename(file, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // The spool is on another file system: copy next to the target, then rename, so readers never see half.
      const partial = path.join(path.dirname(target), `${PARTIAL_PREFIX}${ulid()}`);
      await copyFile(file, partial);
      await rename(partial, target);
    }
    const info = await lstat(target);
    return {
      path: key.path,
      size,
      etag: `${info.ino.toString(36)}-${info.size}-${info.mtimeMs}`,
      modifiedTime: info.mtime,
    };
  }

  async list(space: string | null, options: ListOptions): Promise<{ files: StoredAudio[]; more: boolean }> {
    const base = space === null ? this.root : path.join(this.root, space);
    // Walk only below the deepest folder the prefix names in full.
    const start = options.prefix.includes('/') ? options.prefix.slice(0, options.prefix.lastIndexOf('/')) : '';
    const found: StoredAudio[] = [];
    for await (const file of walk(base, start)) {
      if (!file.path.startsWith(options.prefix)) continue;
      if (options.startAfter !== undefined && compareStoreOrder(file.path, options.startAfter) <= 0) continue;
      found.push(file);
    }
    found.sort((a, b) => compareStoreOrder(a.path, b.path));
    return { files: found.slice(0, options.limit), more: found.length > options.limit };
  }

  async delete(key: AudioKey): Promise<boolean> {
    const target = path.join(this.root, storeName(key));
    try {
      const info = await lstat(target);
      if (!info.isFile()) return false;
    } catch {
      return false;
    }
    await rm(target, { force: true });
    return true;
  }

  async *spaces(): AsyncIterable<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory() && !entry.name.startsWith('.')) yield entry.name;
  }

  async close(): Promise<void> {}

  /** The real path of a space (the root in the shared layout); a space with no folder yet holds nothing. */
  private async realJail(space: string | null): Promise<string> {
    try {
      return await realpath(space === null ? this.root : path.join(this.root, space));
    } catch {
      throw new AudioObjectMissingError();
    }
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Where the kernel can say which file a descriptor opened (Linux), checks that one too: a folder swapped for a
 * symlink between `realpath` and `open` would otherwise slip through.
 */
async function openedInside(handle: FileHandle, jail: string): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  return isInside(jail, await readlink(`/proc/self/fd/${handle.fd}`));
}

function openedFile(handle: FileHandle, size: number, modifiedTime: Date, etag: string): OpenedAudio {
  return {
    size,
    etag,
    modifiedTime,
    readAt: async (offset, length) => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    },
    // Positional reads from the same descriptor: never the path again, and independent of any other reads.
    stream: () =>
      Readable.toWeb(
        handle.createReadStream({ start: 0, end: Math.max(0, size - 1), autoClose: false, emitClose: false }),
      ) as ReadableStream<Uint8Array>,
    close: () => handle.close(),
  };
}

/** Regular files below `base/start`, with paths relative to `base`; symlinks and partial files are not listed. */
async function* walk(base: string, start: string): AsyncIterable<StoredAudio> {
  let entries: Dirent[];
  try {
    entries = await readdir(path.join(base, start), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const relative = start === '' ? entry.name : `${start}/${entry.name}`;
    if (entry.isDirectory()) {
      yield* walk(base, relative);
    } else if (entry.isFile() && !entry.name.startsWith(PARTIAL_PREFIX)) {
      let info;
      try {
        info = await lstat(path.join(base, relative));
      } catch {
        continue;
      }
      yield {
        path: relative,
        size: info.size,
        etag: `${info.ino.toString(36)}-${info.size}-${info.mtimeMs}`,
        modifiedTime: info.mtime,
      };
    }
  }
}
