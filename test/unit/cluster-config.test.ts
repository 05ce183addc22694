/**
 * One configuration, not two: `npm run cluster` (src/cluster) and docker-compose.temporal.yml run the same Temporal
 * release with the same environment, dynamic config file and preparation scripts. Each test here fails when one of
 * them changes without the other. The compose file is read as Docker Compose reads it, through tools/compose-check
 * (built by `npm run setup`), with its defaults interpolated.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { clusterPorts } from '../../src/cluster/cluster-ports';
import { readRelease, RELEASE_FILE } from '../../src/cluster/release';
import {
  DYNAMIC_CONFIG_FILE,
  HISTORY_SHARDS,
  MAKE_CERTIFICATES_SCRIPT,
  PREPARE_NAMESPACE_SCRIPT,
  RINGPOP_TLS_KEY,
  SERVER_ENVIRONMENT,
  SETUP_SCHEMA_SCRIPT,
  TLS_FILES,
  TLS_SERVER_NAMES,
  certificateJobEnvironment,
  clientTls,
  namespaceJobEnvironment,
  plainDynamicConfig,
  schemaJobEnvironment,
  serverProcessEnvironment,
  serviceTlsEnvironment,
  uiEnvironment,
} from '../../src/cluster/server-config';
import { loadConfig } from '../../src/config/config';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.temporal.yml');
const CHECKER = path.join(process.env.TEMPORAL_TOOLS_DIR ?? path.join(ROOT, '.tools'), 'compose-check');
/** What the compose file requires of the operator; none of it concerns the Temporal server's own settings. */
const REQUIRED = {
  POSTGRES_PASSWORD: 'not-a-real-password',
  JOBS_DATABASE_PASSWORD: 'not-a-real-jobs-password',
  PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  API_KEYS_FILE: '/srv/transcription/api-keys.txt',
  ASR_URL: 'http://asr.internal:8000',
};
/** Where the image reads its dynamic config when DYNAMIC_CONFIG_FILE_PATH is unset (the embedded template's default). */
const IMAGE_DYNAMIC_CONFIG = '/etc/temporal/config/dynamicconfig/docker.yaml';
/**
 * Where the compose file mounts the certificates in every container that needs them; the cluster's are in
 * `$DATA_DIR/cluster/tls`. The cluster's code, given this folder, must say what the compose file says.
 */
const TLS_MOUNT = '/etc/temporal/tls';
/** The containers that hold certificates: the Temporal server, the operators' tools, the service. */
const TLS_CLIENTS = ['temporal', 'temporal-namespace', 'temporal-ui', 'api', 'worker'];

interface Service {
  image: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  configs?: { source: string; target: string }[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  depends_on?: Record<string, { condition: string }>;
}
interface Project {
  services: Record<string, Service>;
  configs: Record<string, { file?: string; content?: string }>;
}

/** Variables whose values say where things are, and so differ between a container and this machine. */
const WHERE = {
  server: ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_PWD', 'BIND_ON_IP'],
  schemaJob: ['POSTGRES_SEEDS', 'DB_PORT', 'SQL_PASSWORD'],
  certificateJob: ['PATH'],
  namespaceJob: ['TEMPORAL_ADDRESS'],
  ui: ['TEMPORAL_ADDRESS'],
};

function keys(env: NodeJS.ProcessEnv | Record<string, string>, except: string[] = []): string[] {
  return Object.keys(env)
    .filter((key) => !except.includes(key))
    .sort();
}

/** Only the given keys of an environment. */
function pick(env: NodeJS.ProcessEnv | Record<string, string>, names: string[]): Record<string, string | undefined> {
  return Object.fromEntries(names.map((name) => [name, env[name]]));
}

describe('npm run cluster and docker-compose.temporal.yml: one configuration', () => {
  let project: Project;
  let services: Record<string, Service>;
  const release = readRelease();
  const serviceDefaults = loadConfig({});

  /** The compose file as Docker Compose reads it with the operator's variables and `env` on top. */
  function load(env: Record<string, string> = {}): Project {
    if (!existsSync(CHECKER)) {
      throw new Error(`${CHECKER} is missing: run npm run setup, which builds tools/compose-check with Go`);
    }
    const result = spawnSync(CHECKER, [COMPOSE_FILE], {
      env: { PATH: process.env.PATH, ...REQUIRED, ...env },
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`compose-check refused the file:\n${result.stderr}`);
    return JSON.parse(result.stdout) as Project;
  }

  beforeAll(() => {
    project = load();
    services = project.services;
  });

  it('when the compose file names Temporal images, then they are the releases pinned in deploy/temporal/release.env', () => {
    expect(services.temporal!.image).toBe(`temporalio/server:${release.serverVersion}`);
    expect(services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${release.serverVersion}`);
    expect(services['temporal-namespace']!.image).toBe(`temporalio/admin-tools:${release.serverVersion}`);
    expect(services['temporal-ui']!.image).toBe(`temporalio/ui:${release.uiVersion}`);
    // The install script builds from the same pin, not a version of its own.
    const installer = readFileSync(path.join(ROOT, 'scripts', 'install-temporal-server.sh'), 'utf8');
    expect(installer).toContain('source "$release"');
    expect(installer).toContain('release="$root/deploy/temporal/release.env"');
    expect(installer).not.toMatch(/@v\d/);
    expect(path.relative(ROOT, RELEASE_FILE)).toBe(path.join('deploy', 'temporal', 'release.env'));
  });

  it('when the history shard count is set, then the compose default and the cluster are the same', () => {
    expect(services.temporal!.environment!.NUM_HISTORY_SHARDS).toBe(String(HISTORY_SHARDS));
  });

  it("when a Temporal process starts, then it has the compose server's environment, but for where things are", async () => {
    const composed = services.temporal!.environment!;
    const ports = await clusterPorts(7233);
    for (const process of ports.processes) {
      const env = serverProcessEnvironment(process, ports, { host: '127.0.0.1', port: 7263 }, HISTORY_SHARDS, {
        tlsDir: TLS_MOUNT,
      });
      expect({ process: process.name, ...pick(env, keys(composed, WHERE.server)) }).toEqual({
        process: process.name,
        ...pick(composed, keys(composed, WHERE.server)),
      });
      // Everything the compose server is told, the cluster's processes are told too; nothing of the server's own
      // settings is the cluster's alone (the rest is ports and the dynamic config file's path).
      expect(keys(env)).toEqual(expect.arrayContaining(keys(composed)));
      const clusterOnly = keys(env).filter((key) => !(key in composed));
      expect(clusterOnly.filter((key) => !/_PORT$/.test(key))).toEqual(['DYNAMIC_CONFIG_FILE_PATH']);
    }
    expect(keys(SERVER_ENVIRONMENT).every((key) => composed[key] === SERVER_ENVIRONMENT[key as 'DB'])).toBe(true);
  });

  it("when the Temporal server runs mutual TLS, then with the certificates' files and names of the cluster's", () => {
    const composed = services.temporal!.environment!;
    const tlsVariables = keys(composed).filter((key) => key.startsWith('TEMPORAL_TLS_'));
    // Client authentication on the frontend and internode, each side of each with its own certificate and CA.
    expect(tlsVariables).toEqual([
      'TEMPORAL_TLS_CLIENT1_CA_CERT',
      'TEMPORAL_TLS_CLIENT2_CA_CERT',
      'TEMPORAL_TLS_EXPIRATION_CHECKS_CHECK_INTERVAL',
      'TEMPORAL_TLS_EXPIRATION_CHECKS_ERROR_WINDOW',
      'TEMPORAL_TLS_EXPIRATION_CHECKS_WARNING_WINDOW',
      'TEMPORAL_TLS_FRONTEND_CERT',
      'TEMPORAL_TLS_FRONTEND_KEY',
      'TEMPORAL_TLS_FRONTEND_SERVER_NAME',
      'TEMPORAL_TLS_INTERNODE_SERVER_NAME',
      'TEMPORAL_TLS_REQUIRE_CLIENT_AUTH',
      'TEMPORAL_TLS_SERVER_CA_CERT',
      'TEMPORAL_TLS_SERVER_CERT',
      'TEMPORAL_TLS_SERVER_KEY',
    ]);
    expect(composed).toMatchObject({
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
      TEMPORAL_TLS_SERVER_CA_CERT: `${TLS_MOUNT}/${TLS_FILES.clusterCa}`,
      TEMPORAL_TLS_CLIENT1_CA_CERT: `${TLS_MOUNT}/${TLS_FILES.clientCa}`,
      TEMPORAL_TLS_FRONTEND_SERVER_NAME: TLS_SERVER_NAMES.frontend,
      TEMPORAL_TLS_INTERNODE_SERVER_NAME: TLS_SERVER_NAMES.internode,
    });
  });

  it('when the certificates are made, then by the same script, into the folder every container that needs them mounts', () => {
    const job = services['temporal-tls']!;
    expect(job.entrypoint).toEqual(['sh', mountTarget(job, 'make-certificates')]);
    expect(project.configs['make-certificates']!.file).toBe(MAKE_CERTIFICATES_SCRIPT);
    const env = certificateJobEnvironment(TLS_MOUNT);
    const composed = job.environment!;
    expect(pick(composed, keys(env, WHERE.certificateJob))).toEqual(pick(env, keys(env, WHERE.certificateJob)));
    // The compose file adds the frontend's name on its network, and who owns the keys in its containers.
    expect(keys(composed, keys(env))).toEqual(['FRONTEND_HOSTS', 'TLS_KEY_OWNER']);
    expect(composed.FRONTEND_HOSTS!.split(' ')).toContain('temporal');
    expect(services.temporal!.depends_on).toMatchObject({
      'temporal-tls': { condition: 'service_completed_successfully' },
    });

    // The job writes the folder; the server, the operators' tools and the service read it, and nothing else.
    const mounts = (found: Project) =>
      Object.fromEntries(
        Object.entries(found.services).flatMap(([name, service]) =>
          (service.volumes ?? [])
            .filter((volume) => volume.target === TLS_MOUNT)
            .map((volume) => [name, `${volume.type}:${volume.source}${volume.read_only ? ':ro' : ''}`]),
        ),
      );
    expect(mounts(project)).toEqual({
      'temporal-tls': 'volume:temporal-tls',
      ...Object.fromEntries(TLS_CLIENTS.map((name) => [name, 'volume:temporal-tls:ro'])),
    });
    // An organisation's own certificates, in a host folder, replace the volume everywhere at once.
    expect(mounts(load({ TEMPORAL_TLS_DIR: '/srv/temporal-tls' }))).toEqual({
      'temporal-tls': 'bind:/srv/temporal-tls',
      ...Object.fromEntries(TLS_CLIENTS.map((name) => [name, 'bind:/srv/temporal-tls:ro'])),
    });
  });

  it("when the API and worker connect, then with the service's certificate, by the settings `npm run cluster` prints", () => {
    const expected = serviceTlsEnvironment(clientTls(TLS_MOUNT, 'service'));
    for (const name of ['api', 'worker']) {
      const composed = services[name]!.environment!;
      expect({
        name,
        ...pick(
          composed,
          keys(composed).filter((key) => key.startsWith('TEMPORAL_TLS')),
        ),
      }).toEqual({
        name,
        ...expected,
      });
      expect(loadConfig(composed).temporal.tls).toEqual({
        caFile: expected.TEMPORAL_TLS_CA_FILE,
        certFile: expected.TEMPORAL_TLS_CERT_FILE,
        keyFile: expected.TEMPORAL_TLS_KEY_FILE,
        serverName: TLS_SERVER_NAMES.frontend,
      });
    }
  });

  it('when the servers read their dynamic config, then both read deploy/temporal/dynamic-config.yaml', async () => {
    const mount = services.temporal!.configs!.find((config) => config.source === 'temporal-dynamic-config');
    expect(mount?.target).toBe(IMAGE_DYNAMIC_CONFIG);
    expect(services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH).toBeUndefined();
    expect(project.configs['temporal-dynamic-config']).toMatchObject({ file: DYNAMIC_CONFIG_FILE });
    const ports = await clusterPorts(7233);
    for (const process of ports.processes) {
      const env = serverProcessEnvironment(process, ports, { host: '127.0.0.1', port: 7263 }, HISTORY_SHARDS);
      expect(env.DYNAMIC_CONFIG_FILE_PATH).toBe(DYNAMIC_CONFIG_FILE);
    }
    // The limit the SQL stores need is in it, in the shape the server reads; so is ringpop's TLS.
    const text = readFileSync(DYNAMIC_CONFIG_FILE, 'utf8');
    const dynamicConfig = parse(text) as Record<string, { value: unknown }[]>;
    expect(dynamicConfig['limit.maxIDLength']).toEqual([{ value: 255, constraints: {} }]);
    expect(dynamicConfig[RINGPOP_TLS_KEY]).toEqual([{ value: true, constraints: {} }]);
    // A cluster on plain gRPC (TEMPORAL_CLUSTER_TLS=false) reads the same file but for that one key, which a server
    // without TLS settings cannot start with.
    const plain = plainDynamicConfig(text);
    const withoutRingpopTls: Record<string, unknown> = { ...dynamicConfig };
    delete withoutRingpopTls[RINGPOP_TLS_KEY];
    expect(parse(plain)).toEqual(withoutRingpopTls);
    expect(plain).not.toContain(RINGPOP_TLS_KEY);
    expect(plain).toContain('# SQL stores keep workflow ids in 255-character columns');
  });

  it('when the schema is set up, then by the same script with the same environment, but for where things are', () => {
    const job = services['temporal-schema']!;
    expect(job.entrypoint).toEqual(['sh', mountTarget(job, 'setup-schema')]);
    expect(project.configs['setup-schema']!.file).toBe(SETUP_SCHEMA_SCRIPT);
    const env = schemaJobEnvironment({ host: '127.0.0.1', port: 7263 }, { sqlToolDir: '/tools', schemaDir: '/s' });
    const composed = job.environment!;
    expect(pick(env, keys(composed, WHERE.schemaJob))).toEqual(pick(composed, keys(composed, WHERE.schemaJob)));
    // The cluster adds only where its sql tool and schema files are; the image has them at fixed places.
    expect(keys(env, keys(composed))).toEqual(['PATH', 'SCHEMA_DIR']);
    expect(readFileSync(SETUP_SCHEMA_SCRIPT, 'utf8')).toContain(
      'schemas="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"',
    );
  });

  it('when the namespace is prepared, then by the same script, with the same namespace, retention and search attributes', () => {
    const job = services['temporal-namespace']!;
    expect(job.entrypoint).toEqual(['sh', mountTarget(job, 'prepare-namespace')]);
    expect(project.configs['prepare-namespace']!.file).toBe(PREPARE_NAMESPACE_SCRIPT);
    // `npm run cluster` takes the namespace and retention from the service's settings, whose defaults these are.
    const env = namespaceJobEnvironment({
      address: '127.0.0.1:7233',
      namespace: serviceDefaults.temporal.namespace,
      retentionDays: serviceDefaults.temporal.retentionDays,
      cliDir: '/tools',
      tls: clientTls(TLS_MOUNT, 'operator'),
    });
    const composed = job.environment!;
    expect(pick(env, keys(composed, WHERE.namespaceJob))).toEqual(pick(composed, keys(composed, WHERE.namespaceJob)));
    expect(keys(env, keys(composed))).toEqual(['HOME', 'PATH']);
  });

  it('when the Web UI runs, then with the same settings, but for where things are', () => {
    const composed = services['temporal-ui']!.environment!;
    const env = uiEnvironment({
      address: '127.0.0.1:7233',
      uiPort: 8233,
      namespace: serviceDefaults.temporal.namespace,
      apiPort: serviceDefaults.api.port,
      tls: clientTls(TLS_MOUNT, 'operator'),
    });
    expect(pick(env, keys(composed, WHERE.ui))).toEqual(pick(composed, keys(composed, WHERE.ui)));
    // The image listens on its own 8080, published at UI_PORT; the cluster's UI listens at TEMPORAL_UI_PORT.
    expect(keys(env, keys(composed))).toEqual(['TEMPORAL_UI_PORT']);
  });

  function mountTarget(service: Service, source: string): string {
    const mount = service.configs!.find((config) => config.source === source);
    if (!mount) throw new Error(`the compose file mounts no ${source} config`);
    return mount.target;
  }
});
