import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ParsedTree } from './setting';
import { CALLBACK_BACKOFF, issuerHostAlias, type SETTINGS } from './settings';

export type ParsedSettings = ParsedTree<typeof SETTINGS>;

/** A chunk attempt may take the whole ASR timeout plus reading the file; the heartbeat catches dead workers sooner. */
const CHUNK_FILE_READ_ALLOWANCE_MS = 10_000;

/**
 * The values no single variable holds: defaults under DATA_DIR, the token issuer's alias, the embedded dev server's address, TLS when any
 * setting asks for it, the queues named after the task queue and the chunk timeout that follows the ASR's.
 */
export function deriveConfig(parsed: ParsedSettings) {
  const { api, auth, encryption, audio, temporal, asr, asrEngine, callbacks, chunkTimeouts, jobsDatabase } = parsed;
  const inDataDir = (file: string) => path.join(parsed.dataDir, file);
  const uiOrigins = [`http://127.0.0.1:${temporal.devServerUiPort}`, `http://localhost:${temporal.devServerUiPort}`];
  return {
    ...parsed,
    api: { ...api, codecCorsOrigins: api.codecCorsOrigins ?? uiOrigins },
    auth: {
      ...auth,
      apiKeysFile: auth.apiKeysFile ?? inDataDir('api-keys.txt'),
      jwt: {
        ...auth.jwt,
        issuerAlias:
          auth.jwt.issuerAlias ?? (auth.jwt.issuer === undefined ? undefined : issuerHostAlias(auth.jwt.issuer)),
      },
    },
    encryption: { ...encryption, keysFile: encryption.keysFile ?? inDataDir('payload-encryption-keys') },
    jobsDatabase: { ...jobsDatabase, sqliteFile: inDataDir('jobs.sqlite') },
    audio: { ...audio, root: audio.root ?? inDataDir('audio'), spoolDir: inDataDir('spool') },
    temporal: {
      ...temporal,
      address: temporal.address ?? `127.0.0.1:${temporal.devServerPort}`,
      embedded: temporal.address === undefined,
      /** Housekeeping activities (upload expiry) run here, never taking a slot kept for an ASR call. */
      maintenanceTaskQueue: `${temporal.taskQueue}-maintenance`,
      tls: temporalTls(temporal),
    },
    asrEngine: { ...asrEngine, threads: asrEngine.threads ?? availableParallelism() },
    callbacks: {
      ...callbacks,
      taskQueue: `${temporal.taskQueue}-callbacks`,
      retry: { ...callbacks.retry, ...CALLBACK_BACKOFF },
    },
    chunkTimeouts: { ...chunkTimeouts, startToCloseMs: asr.timeoutMs + CHUNK_FILE_READ_ALLOWANCE_MS },
  };
}

/** TLS towards Temporal, if any setting asks for it; the files are read when connecting. */
function temporalTls({ tls, apiKey }: ParsedSettings['temporal']) {
  const { enabled, ...files } = tls;
  const wanted =
    enabled ||
    apiKey !== undefined ||
    [files.caFile, files.certFile, files.serverName].some((value) => value !== undefined);
  return wanted ? files : undefined;
}
