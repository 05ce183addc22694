import type { CommandName } from './cli-args';
import { DEFAULT_API_URL } from './connection-settings';

const GLOBAL_OPTIONS = `Options for every command:
  --api-url <url>   the API's address (env TRANSCRIBE_API_URL, default ${DEFAULT_API_URL})
  --api-key <key>   an API key or JWT, sent as a Bearer token (env TRANSCRIBE_API_KEY)
  --json            for scripts: stdout is exactly the API's answer (submit adds the files it uploaded), errors
                    are {"error": …} JSON on stderr, and no progress is shown
  -h, --help        this help`;

const EXIT_CODES = `Exit codes:
  0    done (a job in progress or completed)
  1    the job failed, the API answered an error, or the API could not be reached
  2    usage error: a bad command, option, flag value or environment variable
  130  interrupted (Ctrl-C) while uploading or waiting; a job being waited for goes on`;

const WAITING = `  --wait            follow the job until it ends: a progress bar of its chunks on a terminal (on stderr),
                    a plain line per change when stderr is not a terminal; then the transcript on stdout, or
                    the failure reason and each failed chunk on stderr with exit code 1 (with --json, no
                    progress, and the ended job's JSON on stdout either way)
  --format <f>      what to print of a completed job: txt (the transcript alone), json (the whole job), srt or
                    vtt (subtitles timed across the job); after --wait, txt by default (json with --json)`;

const COMMANDS: Record<CommandName, string> = {
  submit: `Usage: transcribe submit <file|path>... [--wait] [--no-upload] [--user <id>] [--callback-url <url>]
                        [--idempotency-key <key>] [--format txt|json|srt|vtt]

Starts a transcription job over audio chunks, transcribed in the order given and stitched into one transcript.

Each argument that names a file on this machine (./talk.mp3) is uploaded first, with a progress bar on stderr,
and the job names the upload in its place. Any other argument is a path in your audio space on the service: an
earlier upload (uploads/01jz…-talk.mp3, see 'transcribe audio ls') or a file placed there (meeting/part-1.wav).
If an upload fails, nothing is submitted. By default up to 24 chunks, each WAV, FLAC, MP3, Ogg or M4A, at most
5 MiB and 5 minutes.

Without --wait, prints the new job's id (with --json, the API's {"jobId": …}). With --json, what is printed
gains "uploads": [{"file", "path", "bytes", "format", "durationSeconds", "expiresTime"}] when files were
uploaded; uploads are removed after a while (AUDIO_UPLOAD_RETENTION_HOURS, 72 by default).

Options:
${WAITING}
  --no-upload       upload nothing: every argument is a path in your audio space, even one that is also a file
                    here
  --user <id>       the job's user, whose audio space the paths are in; a key always submits for its own user,
                    so this is for a service without authentication
  --callback-url <url>
                    where the service POSTs the job's result when it ends (its origin must be allowed there)
  --idempotency-key <key>
                    makes a retried submit safe: the same key and paths give back the same job. Local files are
                    uploaded anew, under new paths, on every run: repeat a keyed submit with the paths its first
                    run uploaded and --no-upload`,
  status: `Usage: transcribe status <jobId> [--wait] [--format txt|json|srt|vtt]

Shows a job: its status, chunks, failure reason and failed chunks, and a completed job's transcript. Exits 1 if
the job failed. With --format txt, srt or vtt, prints only that (the API refuses it before the job completes).

Options:
${WAITING}`,
  search: `Usage: transcribe search --status in_progress|completed|failed [--user <id>] [--limit <n>] [--all]
                        [--page-token <token>]

Lists a user's jobs in one status: running jobs newest first, finished ones most recently finished first. The
index lags a moment behind the jobs themselves.

Options:
  --status <s>      in_progress, completed or failed (required)
  --user <id>       whose jobs; defaults to the key's own (only operators may name another)
  --limit <n>       jobs per page, 1-100 (default 20)
  --all             follow nextPageToken to the last page; with --json, one answer with every page's results
  --page-token <t>  start from a page a previous search named in nextPageToken`,
  cancel: `Usage: transcribe cancel <jobId>

Cancels a job in progress: its ASR calls are aborted and it reads failed with reason "canceled"; chunks already
transcribed keep their transcript. With --json, prints the job as it was when the cancel was asked for.`,
  retry: `Usage: transcribe retry <jobId> [--wait] [--format txt|json|srt|vtt] [--callback-url <url>]
                       [--idempotency-key <key>]

Retries a failed job as a new job that carries over every chunk already transcribed and sends only the others to
the ASR again. Without --wait, prints the new job's id (with --json, the API's {"jobId", "retriedFrom",
"reusedChunks"}).

Options:
${WAITING}
  --callback-url <url>
                    where the service POSTs the new job's result when it ends
  --idempotency-key <key>
                    makes a retried retry safe: the same key gives back the same new job`,
  audio: `Usage: transcribe audio ls [--prefix <p>] [--limit <n>] [--all] [--page-token <token>]
       transcribe audio rm <path>...
       transcribe audio upload <file>...

The audio files in your own space on the service, which jobs name by path.

  ls       lists your files: path, size, and when an upload is removed (AUDIO_UPLOAD_RETENTION_HOURS after it
           was stored; other files stay). With --json, the API's {"files": […], "nextPageToken": …}.
  rm       deletes each path, saying so for each; exits 1 if any could not be deleted (one that is not there,
           or not yours, reads "no such audio file"). With --json, {"removed": [path…], "failed": [{"path",
           "error"}]}.
  upload   uploads files from this machine, with a progress bar each on stderr, and prints each upload's path,
           for 'transcribe submit --no-upload'. With --json, {"uploads": [{"file", "path", "bytes", "format",
           "durationSeconds", "expiresTime"}]}.

Options:
  --prefix <p>      ls: only paths that start with this, e.g. uploads/
  --limit <n>       ls: files per page, 1-1000 (default 100)
  --all             ls: follow nextPageToken to the last page; with --json, one answer with every page's files
  --page-token <t>  ls: start from a page a previous ls named in nextPageToken
  --user <id>       whose audio space; a key always acts in its own user's, so this is for a service without
                    authentication`,
};

/** `transcribe --help`, or one command's. */
export function helpText(command?: CommandName): string {
  if (command !== undefined) return `${COMMANDS[command]}\n\n${GLOBAL_OPTIONS}\n\n${EXIT_CODES}\n`;
  return `Usage: transcribe <command> [options]

A client of the transcription service's HTTP API.

Commands:
  submit <file>...   start a job over audio chunks: files here are uploaded first, other paths are the service's
  status <jobId>     show a job, or follow it with --wait
  search --status s  list a user's jobs in one status
  cancel <jobId>     cancel a job in progress
  retry <jobId>      retry a failed job, reusing its transcribed chunks
  audio ls|rm|upload list, delete or upload the audio files in your space on the service
  help [command]     this help, or a command's

${GLOBAL_OPTIONS}
  --version         the CLI's version

${EXIT_CODES}

Run 'transcribe <command> --help' for a command's options.
`;
}
