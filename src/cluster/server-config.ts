import path from 'node:path';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';
import type { ClusterPorts, ProcessPorts, TemporalService } from './cluster-ports';
import { DEPLOY_DIR } from './release';

/**
 * The one configuration of a Temporal server for this service, shared by docker-compose.temporal.yml and
 * `npm run cluster`: the same environment variables (those of the temporalio/server image's embedded template), the
 * same dynamic config file and the same preparation scripts. test/unit/cluster-config.test.ts fails when the compose
 * file says otherwise. What differs is only where things are: hosts, ports, the password (none here: the cluster's
 * PostgreSQL trusts loopback connections).
 */

/**
 * History shards. Fixed when the cluster's database is created, never changeable afterwards (the server keeps the
 * first value and ignores its configuration); docs/cluster.md says how it was chosen.
 */
export const HISTORY_SHARDS = 512;

/** The server's settings that do not depend on where it runs: equal in the compose file's `temporal` service. */
export const SERVER_ENVIRONMENT = {
  DB: 'postgres12',
  POSTGRES_USER: 'temporal',
  DBNAME: 'temporal',
  VISIBILITY_DBNAME: 'temporal_visibility',
  // Visibility (the search behind GET /transcript/search and the UI's filters) in PostgreSQL, not Elasticsearch.
  ENABLE_ES: 'false',
} as const;

/** The dynamic config file the compose file mounts into its server, and the cluster's processes read. */
export const DYNAMIC_CONFIG_FILE = path.join(DEPLOY_DIR, 'dynamic-config.yaml');
/** The compose file's one-shot jobs, run by the cluster as they are. */
export const SETUP_SCHEMA_SCRIPT = path.join(DEPLOY_DIR, 'setup-schema.sh');
export const PREPARE_NAMESPACE_SCRIPT = path.join(DEPLOY_DIR, 'prepare-namespace.sh');

/** Where the cluster's PostgreSQL listens. */
export interface DatabaseAddress {
  host: string;
  port: number;
}

/** Each service's port variables of the embedded template. */
const PORT_VARIABLES: Record<TemporalService, string> = {
  frontend: 'FRONTEND',
  history: 'HISTORY',
  matching: 'MATCHING',
  worker: 'WORKER',
};

/**
 * The environment of one cluster process. It is built from nothing but what is listed here, not inherited: the
 * server reads TEMPORAL_ENVIRONMENT, TEMPORAL_CONFIG_DIR and other variables as orders to load another
 * configuration, and LOG_LEVEL (the service's, with pino's levels) as its own.
 *
 * Every process gets the ports of every service, not only its own: each one writes the frontend's address into the
 * cluster's metadata in the database at start, and all must write the same.
 */
export function serverProcessEnvironment(
  process: ProcessPorts,
  ports: ClusterPorts,
  database: DatabaseAddress,
  shards: number,
): NodeJS.ProcessEnv {
  const portVariables: Record<string, string> = {};
  // The first process of each service, then this one over it (the second history process has ports of its own).
  for (const each of [...ports.processes].reverse().concat(process)) {
    const prefix = PORT_VARIABLES[each.service];
    portVariables[`${prefix}_GRPC_PORT`] = String(each.grpc);
    portVariables[`${prefix}_MEMBERSHIP_PORT`] = String(each.membership);
    if (each.http !== undefined) portVariables[`${prefix}_HTTP_PORT`] = String(each.http);
  }
  return {
    ...SERVER_ENVIRONMENT,
    ...portVariables,
    POSTGRES_SEEDS: database.host,
    DB_PORT: String(database.port),
    POSTGRES_PWD: '',
    NUM_HISTORY_SHARDS: String(shards),
    BIND_ON_IP: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: DYNAMIC_CONFIG_FILE,
  };
}

/** The compose file's `temporal-schema` job, with the release's sql tool and schema files instead of the image's. */
export function schemaJobEnvironment(
  database: DatabaseAddress,
  tools: { sqlToolDir: string; schemaDir: string },
): NodeJS.ProcessEnv {
  return {
    DB: SERVER_ENVIRONMENT.DB,
    POSTGRES_SEEDS: database.host,
    DB_PORT: String(database.port),
    POSTGRES_USER: SERVER_ENVIRONMENT.POSTGRES_USER,
    DBNAME: SERVER_ENVIRONMENT.DBNAME,
    VISIBILITY_DBNAME: SERVER_ENVIRONMENT.VISIBILITY_DBNAME,
    SQL_PASSWORD: '',
    SCHEMA_DIR: tools.schemaDir,
    PATH: `${tools.sqlToolDir}:${globalThis.process.env.PATH ?? '/usr/bin:/bin'}`,
  };
}

/** The compose file's `temporal-namespace` job, with the project's pinned Temporal CLI. */
export function namespaceJobEnvironment(options: {
  address: string;
  namespace: string;
  retentionDays: number;
  cliDir: string;
}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: options.address,
    NAMESPACE: options.namespace,
    RETENTION_DAYS: String(options.retentionDays),
    SEARCH_ATTRIBUTES: searchAttributes(),
    PATH: `${options.cliDir}:${globalThis.process.env.PATH ?? '/usr/bin:/bin'}`,
    // The CLI keeps its own configuration under HOME; none is read from the developer's.
    HOME: globalThis.process.env.HOME ?? '/tmp',
  };
}

/** `name=Type` pairs of the service's search attributes (workflows/contract.ts), as the namespace job takes them. */
export function searchAttributes(): string {
  return CUSTOM_SEARCH_ATTRIBUTES.map(({ name, type }) => `${name}=${cliSearchAttributeType(type)}`).join(' ');
}

/** The CLI's spelling of an SDK search attribute type: KEYWORD is Keyword, KEYWORD_LIST is KeywordList. */
function cliSearchAttributeType(type: string): string {
  return type
    .split('_')
    .map((word) => word.charAt(0) + word.slice(1).toLowerCase())
    .join('');
}

/**
 * The compose file's `temporal-ui` service: the variables its image's configuration template reads. The codec
 * endpoint is the API's, as the browser reaches it, when the API's port is known.
 */
export function uiEnvironment(options: {
  address: string;
  uiPort: number;
  namespace: string;
  apiPort: number | undefined;
}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: options.address,
    TEMPORAL_UI_PORT: String(options.uiPort),
    TEMPORAL_DEFAULT_NAMESPACE: options.namespace,
    ...(options.apiPort
      ? {
          TEMPORAL_CODEC_ENDPOINT: `http://127.0.0.1:${options.apiPort}/codec`,
          TEMPORAL_CODEC_INCLUDE_CREDENTIALS: 'true',
        }
      : {}),
  };
}
