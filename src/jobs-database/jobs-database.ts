import type { ChunkState, JobStatus, TranscriptResult } from '../../workflows/contract';
import { transcriptResult } from '../../workflows/transcript-result';
import type { SearchCursor } from './page-token';
import type { RecordSealer } from './record-sealer';
import type { SqlConnection } from './sql-connection';

/** What a job record seals: everything that names the user's audio or says what was in it. */
interface SealedJob {
  chunks: ChunkState[];
  transcription: string | null;
  failureReason: string | null;
}

type SealedChunk = Omit<ChunkState, 'index' | 'status' | 'attempts'>;

interface JobRow {
  job_id: string;
  user_id: string;
  job_status: JobStatus;
  created_ms: number;
  completed_ms: number | null;
  retried_from: string | null;
  sealed: string;
}

interface ProgressRow {
  job_id: string;
  chunk_index: number;
  chunk_status: ChunkState['status'];
  attempts: number;
  sealed: string;
}

export interface JobSearch {
  userId: string;
  jobStatus: JobStatus;
  limit: number;
  /** The last job of the previous page. */
  after?: SearchCursor;
  createdFromMs?: number;
  createdBeforeMs?: number;
}

const JOB_COLUMNS = 'job_id, user_id, job_status, created_ms, completed_ms, retried_from, sealed';

/**
 * The jobs database: the system of record of every job, keyed by its id, with an index by user, status and
 * creation time. Every write is an idempotent upsert, so a replayed or retried activity writes nothing twice:
 * a job's start never overwrites anything, its end overwrites its start, and a chunk's progress counts only while
 * its job runs.
 */
export class JobsDatabase {
  constructor(
    private readonly sql: SqlConnection,
    private readonly sealer: RecordSealer,
  ) {}

  /** The job as it starts; nothing happens if it is recorded already (by the API, or an earlier attempt). */
  async recordStarted(job: TranscriptResult): Promise<void> {
    const { keyId, sealed } = await this.sealer.seal(sealedJob(job));
    await this.sql.execute(
      `INSERT INTO jobs (job_id, user_id, job_status, created_ms, completed_ms, retried_from, chunk_count, key_id, sealed)
       VALUES ($1, $2, 'in_progress', $3, NULL, $4, $5, $6, $7) ON CONFLICT (job_id) DO NOTHING`,
      [job.jobId, job.userId, Date.parse(job.createdTime), job.retriedFrom, job.chunks.length, keyId, sealed],
    );
  }

  /** How one chunk stands while its job runs; ignored once the job has ended (a late attempt changes nothing). */
  async recordChunk(jobId: string, chunk: ChunkState): Promise<void> {
    const { index, status, attempts, ...rest } = chunk;
    const { keyId, sealed } = await this.sealer.seal(rest satisfies SealedChunk);
    await this.sql.execute(
      `INSERT INTO job_chunk_progress (job_id, chunk_index, chunk_status, attempts, key_id, sealed)
       SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = $1 AND job_status = 'in_progress')
       ON CONFLICT (job_id, chunk_index) DO UPDATE SET chunk_status = excluded.chunk_status,
         attempts = excluded.attempts, key_id = excluded.key_id, sealed = excluded.sealed`,
      [jobId, index, status, attempts, keyId, sealed],
    );
  }

  /**
   * An attempt at a chunk has begun: the chunk reads `in_progress` with this many attempts, keeping the last failure
   * a retry follows. A chunk already recorded as finished stays so (an attempt outlived by its retry may start late).
   */
  async recordAttemptStarted(jobId: string, chunk: Pick<ChunkState, 'index' | 'path' | 'attempts'>): Promise<void> {
    const first: SealedChunk = {
      path: chunk.path,
      error: null,
      transcript: null,
      durationSeconds: null,
      segments: null,
    };
    const { keyId, sealed } = await this.sealer.seal(first);
    await this.sql.execute(
      `INSERT INTO job_chunk_progress (job_id, chunk_index, chunk_status, attempts, key_id, sealed)
       SELECT $1, $2, 'in_progress', $3, $4, $5 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = $1 AND job_status = 'in_progress')
       ON CONFLICT (job_id, chunk_index) DO UPDATE SET chunk_status = 'in_progress', attempts = excluded.attempts
         WHERE job_chunk_progress.chunk_status NOT IN ('completed', 'failed')`,
      [jobId, chunk.index, chunk.attempts, keyId, sealed],
    );
  }

  /**
   * The job as it ended, whether or not its start was recorded; what was recorded is returned. A chunk the record
   * already holds as transcribed stays so, with its transcript: its worker records an attempt's outcome just before
   * reporting it, so a job cancelled or terminated in between ends without knowing of it.
   */
  async recordEnded(ended: TranscriptResult): Promise<TranscriptResult> {
    if (ended.jobStatus === 'in_progress') throw new Error(`job ${ended.jobId} has not ended`);
    const job = await this.keepingTranscribedChunks(ended);
    const { keyId, sealed } = await this.sealer.seal(sealedJob(job));
    await this.sql.execute(
      `INSERT INTO jobs (job_id, user_id, job_status, created_ms, completed_ms, retried_from, chunk_count, key_id, sealed)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (job_id) DO UPDATE SET
         job_status = excluded.job_status, completed_ms = excluded.completed_ms, key_id = excluded.key_id,
         sealed = excluded.sealed`,
      [
        job.jobId,
        job.userId,
        job.jobStatus,
        Date.parse(job.createdTime),
        job.completedTime === null ? Date.now() : Date.parse(job.completedTime),
        job.retriedFrom,
        job.chunks.length,
        keyId,
        sealed,
      ],
    );
    await this.sql.execute('DELETE FROM job_chunk_progress WHERE job_id = $1', [job.jobId]);
    return job;
  }

  /** Whose job this is, read alone by the key: nothing of the job is fetched before its owner is known. */
  async ownerOf(jobId: string): Promise<string | undefined> {
    const [row] = await this.sql.query<{ user_id: string }>('SELECT user_id FROM jobs WHERE job_id = $1', [jobId]);
    return row?.user_id;
  }

  async get(jobId: string): Promise<TranscriptResult | undefined> {
    const [row] = await this.sql.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE job_id = $1`, [jobId]);
    if (!row) return undefined;
    const [job] = await this.results([row]);
    return job;
  }

  /** One page of a user's jobs in one status, newest first; `next` is set when more may follow. */
  async search(search: JobSearch): Promise<{ jobs: TranscriptResult[]; next: SearchCursor | null }> {
    const params: (string | number)[] = [search.userId, search.jobStatus];
    const where = ['user_id = $1', 'job_status = $2'];
    const param = (value: string | number) => `$${params.push(value)}`;
    if (search.after)
      where.push(`(created_ms, job_id) < (${param(search.after.createdMs)}, ${param(search.after.jobId)})`);
    if (search.createdFromMs !== undefined) where.push(`created_ms >= ${param(search.createdFromMs)}`);
    if (search.createdBeforeMs !== undefined) where.push(`created_ms < ${param(search.createdBeforeMs)}`);
    const rows = await this.sql.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${where.join(' AND ')}
       ORDER BY created_ms DESC, job_id DESC LIMIT ${param(search.limit + 1)}`,
      params,
    );
    const page = rows.slice(0, search.limit);
    const last = page.at(-1);
    const next = rows.length > search.limit && last ? { createdMs: Number(last.created_ms), jobId: last.job_id } : null;
    return { jobs: await this.results(page), next };
  }

  /** Jobs recorded as in progress that were created before a time: what the reconciler looks at. */
  async unfinishedCreatedBefore(cutoffMs: number, limit: number): Promise<string[]> {
    const rows = await this.sql.query<{ job_id: string }>(
      `SELECT job_id FROM jobs WHERE job_status = 'in_progress' AND created_ms < $1 ORDER BY created_ms LIMIT $2`,
      [cutoffMs, limit],
    );
    return rows.map((row) => row.job_id);
  }

  /** The chunks of each user's jobs in progress, for users that have any: how admission shares the ASR backlog. */
  async chunksInFlightByUser(): Promise<Map<string, number>> {
    const rows = await this.sql.query<{ user_id: string; chunks: number | string }>(
      `SELECT user_id, SUM(chunk_count) AS chunks FROM jobs WHERE job_status = 'in_progress' GROUP BY user_id`,
    );
    return new Map(rows.map((row) => [row.user_id, Number(row.chunks)]));
  }

  /** Which of these jobs have a record. */
  async existing(jobIds: readonly string[]): Promise<Set<string>> {
    if (jobIds.length === 0) return new Set();
    const list = jobIds.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await this.sql.query<{ job_id: string }>(`SELECT job_id FROM jobs WHERE job_id IN (${list})`, jobIds);
    return new Set(rows.map((row) => row.job_id));
  }

  /** Deletes a job's record; false if there was none. */
  async delete(jobId: string): Promise<boolean> {
    await this.sql.execute('DELETE FROM job_chunk_progress WHERE job_id = $1', [jobId]);
    return (await this.sql.execute('DELETE FROM jobs WHERE job_id = $1', [jobId])) > 0;
  }

  /** Deletes up to `limit` records of jobs created before a time; returns how many went. */
  async deleteCreatedBefore(cutoffMs: number, limit: number): Promise<number> {
    const oldest = 'SELECT job_id FROM jobs WHERE created_ms < $1 ORDER BY created_ms LIMIT $2';
    await this.sql.execute(`DELETE FROM job_chunk_progress WHERE job_id IN (${oldest})`, [cutoffMs, limit]);
    return this.sql.execute(`DELETE FROM jobs WHERE job_id IN (${oldest})`, [cutoffMs, limit]);
  }

  /** Resolves once the database answers. */
  async ping(): Promise<void> {
    await this.sql.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.sql.close();
  }

  private async keepingTranscribedChunks(job: TranscriptResult): Promise<TranscriptResult> {
    if (job.chunks.every((chunk) => chunk.status === 'completed')) return job;
    const recorded = await this.get(job.jobId);
    if (!recorded) return job;
    const chunks = job.chunks.map((chunk, index) => {
      const known = recorded.chunks[index];
      return chunk.status !== 'completed' && known?.status === 'completed' ? known : chunk;
    });
    return { ...job, chunks };
  }

  private async results(rows: JobRow[]): Promise<TranscriptResult[]> {
    const running = rows.filter((row) => row.job_status === 'in_progress').map((row) => row.job_id);
    const progress = await this.progressOf(running);
    return Promise.all(
      rows.map(async (row) => {
        const content = await this.sealer.open<SealedJob>(row.sealed);
        const chunks = await Promise.all(
          content.chunks.map(async (chunk) => {
            const latest = progress.get(`${row.job_id}/${chunk.index}`);
            if (!latest) return chunk;
            const rest = await this.sealer.open<SealedChunk>(latest.sealed);
            return { ...chunk, ...rest, status: latest.chunk_status, attempts: Number(latest.attempts) };
          }),
        );
        return transcriptResult({
          ...content,
          chunks,
          jobId: row.job_id,
          userId: row.user_id,
          jobStatus: row.job_status,
          createdTime: new Date(Number(row.created_ms)).toISOString(),
          completedTime: row.completed_ms === null ? null : new Date(Number(row.completed_ms)).toISOString(),
          retriedFrom: row.retried_from,
        });
      }),
    );
  }

  private async progressOf(jobIds: string[]): Promise<Map<string, ProgressRow>> {
    if (jobIds.length === 0) return new Map();
    const list = jobIds.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await this.sql.query<ProgressRow>(
      `SELECT job_id, chunk_index, chunk_status, attempts, sealed FROM job_chunk_progress WHERE job_id IN (${list})`,
      jobIds,
    );
    return new Map(rows.map((row) => [`${row.job_id}/${row.chunk_index}`, row]));
  }
}

function sealedJob(job: TranscriptResult): SealedJob {
  return { chunks: job.chunks, transcription: job.transcription, failureReason: job.failureReason };
}
