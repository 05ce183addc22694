import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The deploy scripts and files the compose file mounts into its containers, which the cluster runs as they are.
 * Looked up from this file upwards: it runs from `src/cluster/` under the tests and from `dist/src/cluster/` built.
 */
export const DEPLOY_DIR = findDeployDir();
/** Where the Temporal release is pinned, for the install script, the cluster and the drift test alike. */
export const RELEASE_FILE = path.join(DEPLOY_DIR, 'release.env');

const INSTALL_HINT = 'run `bash scripts/setup.sh temporal-server` (it builds them with Go, about 5 minutes on 2 cores)';

/** The pinned releases of deploy/temporal/release.env. */
export interface TemporalRelease {
  serverVersion: string;
  uiVersion: string;
}

/** What scripts/install-temporal-server.sh built for the pinned release. */
export interface TemporalBinaries {
  server: string;
  /** A folder holding `temporal-sql-tool`, to put first on the schema script's PATH. */
  sqlToolDir: string;
  /** The versioned PostgreSQL schema files of the same release (setup-schema.sh's SCHEMA_DIR). */
  schemaDir: string;
  /** The Web UI server and the configuration template its image renders, when it was built. */
  ui: { server: string; configTemplate: string } | undefined;
}

/** Reads the pinned versions; plain `KEY=VALUE` lines, comments and blank lines, as bash `source`s them. */
export function readRelease(file: string = RELEASE_FILE): TemporalRelease {
  const values = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (match) values.set(match[1]!, match[2]!);
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${file} does not set ${key}`);
    return value;
  };
  return { serverVersion: get('TEMPORAL_SERVER_VERSION'), uiVersion: get('TEMPORAL_UI_VERSION') };
}

/** The installed binaries of `release`, failing with the command that installs them when the server is missing. */
export function temporalBinaries(toolsDir: string, release: TemporalRelease = readRelease()): TemporalBinaries {
  const serverDir = path.join(path.resolve(toolsDir), 'temporal-server', release.serverVersion);
  const server = path.join(serverDir, 'temporal-server');
  const schemaDir = path.join(serverDir, 'schema', 'postgresql', 'v12');
  for (const needed of [server, path.join(serverDir, 'temporal-sql-tool'), schemaDir]) {
    if (!existsSync(needed)) {
      throw new Error(
        `Temporal server ${release.serverVersion} is not installed (${needed} is missing): ${INSTALL_HINT}`,
      );
    }
  }
  const uiDir = path.join(path.resolve(toolsDir), 'temporal-ui-server', release.uiVersion);
  const ui = { server: path.join(uiDir, 'ui-server'), configTemplate: path.join(uiDir, 'config', 'docker.yaml') };
  return {
    server,
    sqlToolDir: serverDir,
    schemaDir,
    ui: existsSync(ui.server) && existsSync(ui.configTemplate) ? ui : undefined,
  };
}

function findDeployDir(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'deploy', 'temporal');
    if (existsSync(path.join(candidate, 'release.env'))) return candidate;
  }
  throw new Error(`deploy/temporal/release.env not found above ${__dirname}`);
}
