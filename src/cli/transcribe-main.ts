#!/usr/bin/env node
import { EXIT_CODES } from './exit-codes';
import { runCli } from './run-cli';

/** `transcribe`, the command line client of the API: see `transcribe --help` and docs/cli.md. */
async function main(): Promise<void> {
  // `transcribe search … | head` closes the pipe early; that is the reader's choice, not an error worth a trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(EXIT_CODES.ok);
  });
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onInterrupt: (handler) => {
      const listener = () => {
        handler();
        process.exit(EXIT_CODES.interrupted);
      };
      process.once('SIGINT', listener);
      return () => process.off('SIGINT', listener);
    },
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`transcribe: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_CODES.failed);
});
