import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** A process's log file, appended to line by line, in order. */
export interface LogFile {
  path: string;
  write(line: string): void;
  close(): Promise<void>;
}

/**
 * Opens `file` for appending: a restarted process adds to the same log, so one file tells a process's whole story.
 * A write that fails (the folder removed by a test's clean-up while the process still talks) is dropped.
 */
export function openLogFile(file: string): LogFile {
  const stream: WriteStream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  stream.on('error', () => undefined);
  return {
    path: file,
    write: (line) => {
      if (!stream.destroyed && !stream.writableEnded) stream.write(`${line}\n`);
    },
    close: async () => {
      if (stream.destroyed || stream.writableEnded) return;
      const finished = once(stream, 'close').catch(() => undefined);
      stream.end();
      await finished;
    },
  };
}
