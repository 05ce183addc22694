/** The CLI's exit codes, as `transcribe --help` and docs/cli.md list them. */
export const EXIT_CODES = {
  ok: 0,
  /** The job failed, or the API answered an error or could not be reached. */
  failed: 1,
  usage: 2,
  /** Ctrl-C while waiting: the job itself goes on. */
  interrupted: 130,
} as const;
