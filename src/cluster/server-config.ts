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
/** The dynamic config key that puts ringpop (membership) on the internode TLS; a server without TLS cannot start with it. */
export const RINGPOP_TLS_KEY = 'system.enableRingpopTLS';

/**
 * The dynamic config of a cluster on plain gRPC: {@link DYNAMIC_CONFIG_FILE}'s text without {@link RINGPOP_TLS_KEY}
 * (its block and the comment above it), everything else as it is.
 */
export function plainDynamicConfig(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${RINGPOP_TLS_KEY}:`));
  if (start < 0) return text;
  let end = start + 1;
  while (end < lines.length && /^(\s|$)/.test(lines[end]!) && lines[end] !== '') end++;
  let from = start;
  while (from > 0 && lines[from - 1]!.startsWith('#')) from--;
  if (from > 0 && lines[from - 1] === '') from--;
  return [...lines.slice(0, from), ...lines.slice(end)].join('\n');
}

/** The compose file's one-shot jobs, run by the cluster as they are. */
export const SETUP_SCHEMA_SCRIPT = path.join(DEPLOY_DIR, 'setup-schema.sh');
export const PREPARE_NAMESPACE_SCRIPT = path.join(DEPLOY_DIR, 'prepare-namespace.sh');
/** The compose file's `temporal-tls` job: the certificates of the cluster's mutual TLS. */
export const MAKE_CERTIFICATES_SCRIPT = path.join(DEPLOY_DIR, 'make-certificates.sh');

/**
 * The names in the Temporal servers' certificates, which every client checks them against: the frontend's (what
 * TEMPORAL_TLS_SERVER_NAME names) and the one the Temporal processes present to each other.
 */
export const TLS_SERVER_NAMES = { frontend: 'temporal-frontend', internode: 'temporal-internode' } as const;

/**
 * The files deploy/temporal/make-certificates.sh makes in its folder. Two CAs: the cluster's signs the servers'
 * certificates, the clients' CA the service's and the operators'; the internode ports trust only the first, so a
 * client's certificate opens the frontend and nothing behind it.
 */
export const TLS_FILES = {
  clusterCa: 'cluster-ca.pem',
  clientCa: 'client-ca.pem',
  frontend: { cert: 'frontend.pem', key: 'frontend.key' },
  internode: { cert: 'internode.pem', key: 'internode.key' },
  /** The transcription service's: the API and the worker. */
  service: { cert: 'service.pem', key: 'service.key' },
  /** The operators' tools: the Temporal CLI, the namespace job, the Web UI, `npm run cluster`'s own health checks. */
  operator: { cert: 'operator.pem', key: 'operator.key' },
} as const;

/** A client's side of the frontend's mutual TLS: the service's settings of the same names, TEMPORAL_TLS_*. */
export interface ClientTls {
  /** The CA of the frontend's certificate (TEMPORAL_TLS_CA_FILE). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The name the frontend's certificate is checked against (TEMPORAL_TLS_SERVER_NAME). */
  serverName: string;
}

/** The files of the service's or the operators' client in the certificates' folder `dir`. */
export function clientTls(dir: string, client: 'service' | 'operator'): ClientTls {
  return {
    caFile: path.join(dir, TLS_FILES.clusterCa),
    certFile: path.join(dir, TLS_FILES[client].cert),
    keyFile: path.join(dir, TLS_FILES[client].key),
    serverName: TLS_SERVER_NAMES.frontend,
  };
}

/** The service's settings (src/config/settings.ts) for a client of the TLS cluster: what `npm start` is given. */
export function serviceTlsEnvironment(tls: ClientTls): Record<string, string> {
  return {
    TEMPORAL_TLS_CA_FILE: tls.caFile,
    TEMPORAL_TLS_CERT_FILE: tls.certFile,
    TEMPORAL_TLS_KEY_FILE: tls.keyFile,
    TEMPORAL_TLS_SERVER_NAME: tls.serverName,
  };
}

/**
 * The server's TLS variables of the embedded template (go.temporal.io/server common/config
 * config_template_embedded.yaml), for the certificates in `dir`. Mutual TLS on both sides of every process:
 * - internode (history, matching and the internal worker's ports, and each process's calls to them): the internode
 *   certificate, presented as server and as client, checked against the cluster CA and the internode name;
 * - the frontend: its own certificate, to clients whose certificates the client CA signed, or the cluster CA (the
 *   internal worker calls the frontend with the internode certificate, checking the frontend's name).
 * TEMPORAL_TLS_REQUIRE_CLIENT_AUTH is one switch for both.
 */
export function serverTlsEnvironment(dir: string): Record<string, string> {
  const file = (name: string) => path.join(dir, name);
  return {
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT: file(TLS_FILES.clusterCa),
    TEMPORAL_TLS_SERVER_CERT: file(TLS_FILES.internode.cert),
    TEMPORAL_TLS_SERVER_KEY: file(TLS_FILES.internode.key),
    TEMPORAL_TLS_INTERNODE_SERVER_NAME: TLS_SERVER_NAMES.internode,
    TEMPORAL_TLS_FRONTEND_CERT: file(TLS_FILES.frontend.cert),
    TEMPORAL_TLS_FRONTEND_KEY: file(TLS_FILES.frontend.key),
    TEMPORAL_TLS_CLIENT1_CA_CERT: file(TLS_FILES.clientCa),
    TEMPORAL_TLS_CLIENT2_CA_CERT: file(TLS_FILES.clusterCa),
    TEMPORAL_TLS_FRONTEND_SERVER_NAME: TLS_SERVER_NAMES.frontend,
    // Every day, each process logs a warning for a certificate it uses that expires within 30 days (when
    // make-certificates.sh renews it, at the next start), an error within 7, and reports them in its metrics.
    TEMPORAL_TLS_EXPIRATION_CHECKS_CHECK_INTERVAL: '24h',
    TEMPORAL_TLS_EXPIRATION_CHECKS_WARNING_WINDOW: '720h',
    TEMPORAL_TLS_EXPIRATION_CHECKS_ERROR_WINDOW: '168h',
  };
}

/**
 * The compose file's `temporal-tls` job: the certificates in `dir`, issued to the names the servers and clients
 * check. The compose file adds the frontend's name on its network (FRONTEND_HOSTS) and who owns the keys.
 */
export function certificateJobEnvironment(dir: string): NodeJS.ProcessEnv {
  return {
    TLS_DIR: dir,
    FRONTEND_NAME: TLS_SERVER_NAMES.frontend,
    INTERNODE_NAME: TLS_SERVER_NAMES.internode,
    PATH: globalThis.process.env.PATH ?? '/usr/bin:/bin',
  };
}

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
  options: {
    /** The certificates' folder, when the cluster runs mutual TLS. */
    tlsDir?: string;
    /** Another dynamic config file than {@link DYNAMIC_CONFIG_FILE}: a plain cluster's ({@link plainDynamicConfig}). */
    dynamicConfigFile?: string;
  } = {},
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
    DYNAMIC_CONFIG_FILE_PATH: options.dynamicConfigFile ?? DYNAMIC_CONFIG_FILE,
    ...(options.tlsDir === undefined ? {} : serverTlsEnvironment(options.tlsDir)),
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

/**
 * The compose file's `temporal-namespace` job, with the project's pinned Temporal CLI; over mutual TLS with the
 * operators' certificate, named by the same variables as the service's (TEMPORAL_TLS_*).
 */
export function namespaceJobEnvironment(options: {
  address: string;
  namespace: string;
  retentionDays: number;
  cliDir: string;
  tls?: ClientTls;
}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: options.address,
    ...(options.tls ? serviceTlsEnvironment(options.tls) : {}),
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
 * endpoint is the API's, as the browser reaches it, when the API's port is known. Over mutual TLS, the UI server
 * calls the frontend with the operators' certificate, checking the frontend's name.
 */
export function uiEnvironment(options: {
  address: string;
  uiPort: number;
  namespace: string;
  apiPort: number | undefined;
  tls?: ClientTls;
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
    ...(options.tls
      ? {
          TEMPORAL_TLS_CA: options.tls.caFile,
          TEMPORAL_TLS_CERT: options.tls.certFile,
          TEMPORAL_TLS_KEY: options.tls.keyFile,
          TEMPORAL_TLS_SERVER_NAME: options.tls.serverName,
          TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
        }
      : {}),
  };
}
