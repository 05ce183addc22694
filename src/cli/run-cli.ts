import { ApiError, TranscriptionApiClient, type TranscriptResult } from './api-client';
import { localAudioFile, UploadError, uploadLocalFile, type LocalAudioFile, type UploadRecord } from './audio-upload';
import { parseCliArgs, UsageError, type CliCommand, type TranscriptFormat } from './cli-args';
import { helpText } from './cli-help';
import { resolveConnection, type ConnectionSettings } from './connection-settings';
import { EXIT_CODES } from './exit-codes';
import {
  audioTable,
  describeFailure,
  describeJob,
  describeRemoveFailure,
  formatError,
  jsonLine,
  searchTable,
} from './output-format';
import { packageVersion } from './package-version';
import { plural, singleLine } from './progress-line';
import { ProgressRenderer, progressModeFor, type ProgressStream } from './progress-renderer';
import { waitForJob } from './wait-for-job';

/** What the CLI touches of its process, so tests can hand it their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
  /** Runs `handler` on Ctrl-C (before the process exits 130) until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
}

type Command<N extends CliCommand['name']> = Extract<CliCommand, { name: N }>;

/** Runs one `transcribe` command line and returns its exit code; nothing it does throws. */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  createClient: (settings: ConnectionSettings) => TranscriptionApiClient = (settings) =>
    new TranscriptionApiClient(settings),
): Promise<number> {
  // Read before parsing, so that a usage error is JSON too for a script that asked for JSON.
  const endOfOptions = argv.indexOf('--');
  const json = (endOfOptions === -1 ? argv : argv.slice(0, endOfOptions)).includes('--json');
  let apiKeyGiven = false;
  try {
    const invocation = parseCliArgs(argv);
    if (invocation.kind === 'help') {
      io.stdout.write(helpText(invocation.command));
      return EXIT_CODES.ok;
    }
    if (invocation.kind === 'version') {
      io.stdout.write(`${packageVersion()}\n`);
      return EXIT_CODES.ok;
    }
    const settings = resolveConnection(invocation.connection, io.env);
    apiKeyGiven = settings.apiKey !== undefined;
    return await new CliSession(createClient(settings), io, invocation.json).run(invocation.command);
  } catch (err) {
    io.stderr.write(formatError(err, { json, apiKeyGiven }));
    return err instanceof UsageError ? EXIT_CODES.usage : EXIT_CODES.failed;
  }
}

/**
 * The commands. Results go to stdout; progress and notes for people go to stderr (and not at all with `--json`),
 * so `transcribe submit … --wait > talk.txt` leaves the bar on the terminal and the transcript in the file.
 */
class CliSession {
  constructor(
    private readonly client: TranscriptionApiClient,
    private readonly io: CliIo,
    private readonly json: boolean,
  ) {}

  run(command: CliCommand): Promise<number> {
    switch (command.name) {
      case 'submit':
        return this.submit(command);
      case 'status':
        return this.status(command);
      case 'search':
        return this.search(command);
      case 'cancel':
        return this.cancel(command);
      case 'retry':
        return this.retry(command);
      case 'audio ls':
        return this.listAudio(command);
      case 'audio rm':
        return this.removeAudio(command);
      case 'audio upload':
        return this.uploadAudio(command);
    }
  }

  /** Uploads the arguments that are files here, in order, then submits the job with their paths in their place. */
  private async submit(command: Command<'submit'>): Promise<number> {
    const { userId, callbackUrl, idempotencyKey } = command;
    const locals = command.upload ? await Promise.all(command.audioChunkPaths.map(localAudioFile)) : [];
    const uploads: UploadRecord[] = [];
    const audioChunkPaths: string[] = [];
    for (const [index, argument] of command.audioChunkPaths.entries()) {
      const local = locals[index];
      if (local === undefined) {
        audioChunkPaths.push(argument);
        continue;
      }
      const uploaded = await this.upload(local, userId);
      this.note(`uploaded ${singleLine(local.file)} as ${uploaded.path}`);
      uploads.push(uploaded);
      audioChunkPaths.push(uploaded.path);
    }
    const submitted = await this.client.submit({ audioChunkPaths, userId, callbackUrl }, { idempotencyKey });
    if (!command.wait) {
      this.print(this.json ? jsonLine(withUploads(submitted, uploads)) : `${submitted.jobId}\n`);
      return EXIT_CODES.ok;
    }
    this.note(`submitted ${submitted.jobId}`);
    return this.follow(submitted.jobId, command.format, uploads);
  }

  private async status(command: Command<'status'>): Promise<number> {
    if (command.wait) return this.follow(command.jobId, command.format);
    if (command.format !== undefined && command.format !== 'json') {
      this.print(await this.client.getTranscript(command.jobId, command.format));
      return EXIT_CODES.ok;
    }
    const job = await this.client.getJob(command.jobId);
    this.print(this.json || command.format === 'json' ? jsonLine(job) : describeJob(job));
    return job.jobStatus === 'failed' ? EXIT_CODES.failed : EXIT_CODES.ok;
  }

  private async search(command: Command<'search'>): Promise<number> {
    const request = { jobStatus: command.jobStatus, userId: command.userId, limit: command.limit };
    let page = await this.client.search({ ...request, pageToken: command.pageToken });
    if (command.all) {
      const results = [...page.results];
      while (page.nextPageToken !== null) {
        page = await this.client.search({ ...request, pageToken: page.nextPageToken });
        results.push(...page.results);
      }
      page = { results, nextPageToken: null };
    }
    if (this.json) {
      this.print(jsonLine(page));
      return EXIT_CODES.ok;
    }
    this.print(page.results.length > 0 ? searchTable(page.results) : `no ${command.jobStatus} jobs\n`);
    if (page.nextPageToken !== null) {
      this.note(`more on the next page: add --all, or --page-token ${page.nextPageToken}`);
    }
    return EXIT_CODES.ok;
  }

  private async cancel(command: Command<'cancel'>): Promise<number> {
    const job = await this.client.cancel(command.jobId);
    this.print(this.json ? jsonLine(job) : `canceling ${job.jobId}: it will read failed with reason "canceled"\n`);
    return EXIT_CODES.ok;
  }

  private async retry(command: Command<'retry'>): Promise<number> {
    const { callbackUrl, idempotencyKey } = command;
    const retried = await this.client.retry(command.jobId, { callbackUrl, idempotencyKey });
    if (this.json && !command.wait) {
      this.print(jsonLine(retried));
      return EXIT_CODES.ok;
    }
    this.note(
      `retrying ${retried.retriedFrom} as ${retried.jobId}: ${plural(retried.reusedChunks, 'chunk')} carried over`,
    );
    if (!command.wait) {
      this.print(`${retried.jobId}\n`);
      return EXIT_CODES.ok;
    }
    return this.follow(retried.jobId, command.format);
  }

  private async listAudio(command: Command<'audio ls'>): Promise<number> {
    const request = { prefix: command.prefix, userId: command.userId, limit: command.limit };
    let page = await this.client.listAudio({ ...request, pageToken: command.pageToken });
    if (command.all) {
      const files = [...page.files];
      while (page.nextPageToken !== null) {
        page = await this.client.listAudio({ ...request, pageToken: page.nextPageToken });
        files.push(...page.files);
      }
      page = { files, nextPageToken: null };
    }
    if (this.json) {
      this.print(jsonLine(page));
      return EXIT_CODES.ok;
    }
    const under = command.prefix === undefined ? '' : ` under ${command.prefix}`;
    this.print(page.files.length > 0 ? audioTable(page.files) : `no audio files${under}\n`);
    if (page.nextPageToken !== null) {
      this.note(`more on the next page: add --all, or --page-token ${page.nextPageToken}`);
    }
    return EXIT_CODES.ok;
  }

  /** Deletes each path in turn: one that cannot be deleted is reported and the rest still are. */
  private async removeAudio(command: Command<'audio rm'>): Promise<number> {
    const removed: string[] = [];
    const failed: { path: string; error: { code: string; message: string; details: unknown } }[] = [];
    for (const audioPath of command.paths) {
      try {
        await this.client.removeAudio(audioPath, { userId: command.userId });
      } catch (err) {
        // These say nothing about the path, and would say the same about every other one.
        if (!(err instanceof ApiError) || err.status === 401 || err.status === 403) throw err;
        failed.push({ path: audioPath, error: { code: err.code, message: err.message, details: err.details } });
        if (!this.json) this.io.stderr.write(describeRemoveFailure(audioPath, err));
        continue;
      }
      removed.push(audioPath);
      if (!this.json) this.print(`removed ${singleLine(audioPath)}\n`);
    }
    if (this.json) this.print(jsonLine({ removed, failed }));
    return failed.length > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
  }

  /** Uploads files and prints their paths; every file is checked before the first upload starts. */
  private async uploadAudio(command: Command<'audio upload'>): Promise<number> {
    const locals: LocalAudioFile[] = [];
    for (const file of command.files) {
      const local = await localAudioFile(file);
      if (local === undefined) throw new UploadError(file, new Error('not a file on this machine'));
      locals.push(local);
    }
    const uploads: UploadRecord[] = [];
    for (const local of locals) {
      const uploaded = await this.upload(local, command.userId);
      uploads.push(uploaded);
      if (!this.json) this.print(`${uploaded.path}\n`);
    }
    if (this.json) this.print(jsonLine({ uploads }));
    return EXIT_CODES.ok;
  }

  /** One file to the user's audio space, with a progress bar of its own. */
  private async upload(local: LocalAudioFile, userId: string | undefined): Promise<UploadRecord> {
    const renderer = this.progressRenderer();
    const stopListening = this.io.onInterrupt(() => renderer.end());
    try {
      return await uploadLocalFile(this.client, local, {
        userId,
        onProgress: (sent) => renderer.updateUpload({ file: local.file, sent, total: local.bytes }),
      });
    } finally {
      renderer.end();
      stopListening();
    }
  }

  /**
   * `--wait`: progress until the job ends, then its transcript, or why it failed with exit code 1. With `--json`,
   * the job's JSON names the files submit uploaded for it.
   */
  private async follow(
    jobId: string,
    format: TranscriptFormat | undefined,
    uploads: readonly UploadRecord[] = [],
  ): Promise<number> {
    const { stderr } = this.io;
    const renderer = this.progressRenderer();
    const stopListening = this.io.onInterrupt(() => {
      renderer.end();
      this.note(`stopped waiting; ${jobId} goes on: transcribe status ${jobId} --wait`);
    });
    let job: TranscriptResult;
    try {
      job = await waitForJob(this.client, jobId, { onUpdate: (update) => renderer.update(update) });
    } finally {
      renderer.end();
      stopListening();
    }
    if (job.jobStatus === 'failed') {
      if (this.json) this.print(jsonLine(withUploads(job, uploads)));
      else stderr.write(describeFailure(job));
      return EXIT_CODES.failed;
    }
    if (format === 'txt' || format === 'srt' || format === 'vtt') {
      this.print(await this.client.getTranscript(jobId, format));
    } else if (this.json) {
      this.print(jsonLine(withUploads(job, uploads)));
    } else if (format === 'json') {
      this.print(jsonLine(job));
    } else {
      this.print(`${job.transcription ?? ''}\n`);
    }
    return EXIT_CODES.ok;
  }

  private progressRenderer(): ProgressRenderer {
    const { stderr, env } = this.io;
    return new ProgressRenderer(stderr, progressModeFor(stderr, { json: this.json, term: env.TERM }));
  }

  private print(text: string): void {
    this.io.stdout.write(text);
  }

  /** A note for people; a script that asked for JSON gets only errors on stderr. */
  private note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`);
  }
}

/** The API's answer as it is when nothing was uploaded, so a script that uploads nothing sees no difference. */
function withUploads<T extends object>(
  answer: T,
  uploads: readonly UploadRecord[],
): T & { uploads?: readonly UploadRecord[] } {
  return uploads.length === 0 ? answer : { ...answer, uploads };
}
