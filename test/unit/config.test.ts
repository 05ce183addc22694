import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config/config';
import { renderConfigurationDoc } from '../../src/config/configuration-doc';
import { listSettings } from '../../src/config/setting';
import { SETTINGS } from '../../src/config/settings';

/** The problems a configuration is refused for. */
function problemsOf(...args: Parameters<typeof loadConfig>): string[] {
  try {
    loadConfig(...args);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('when nothing is set, then the embedded defaults apply', () => {
    const config = loadConfig({});
    expect(config.api.port).toBe(3000);
    expect(config.temporal.embedded).toBe(true);
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.temporal.retentionDays).toBe(7);
    expect(config.audio.root).toBe(path.resolve('./data/audio'));
    expect(config.audio.maxChunkBytes).toBe(5 * 1024 * 1024);
    expect(config.chunkRetry).toEqual({
      maximumAttempts: 3,
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maximumIntervalMs: 30_000,
    });
    expect(config.asrSimulator.latency).toEqual({ minMs: 5000, maxMs: 10_000 });
    expect(config.asr.url).toBeUndefined();
  });

  it('when no jobs database is named, then it is a SQLite file in DATA_DIR; a URL that is not PostgreSQL is refused unshown', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/x' }).jobsDatabase).toMatchObject({
      url: undefined,
      sqliteFile: '/tmp/x/jobs.sqlite',
      recordRetentionDays: 400,
    });
    const url = 'postgresql://jobs:pw@db.internal:5432/transcription_jobs';
    expect(loadConfig({ JOBS_DATABASE_URL: url }).jobsDatabase.url).toBe(url);
    const [problem] = problemsOf({ JOBS_DATABASE_URL: 'mysql://jobs:hunter2@db/jobs' });
    expect(problem).toMatch(/^JOBS_DATABASE_URL=\(hidden\): .*postgres/);
    expect(problem).not.toContain('hunter2');
  });

  it('when DATA_DIR moves, then the audio root follows it unless AUDIO_ROOT is set', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/x' }).audio.root).toBe('/tmp/x/audio');
    expect(loadConfig({ DATA_DIR: '/tmp/x', AUDIO_ROOT: '/srv/audio' }).audio.root).toBe('/srv/audio');
  });

  it('when TEMPORAL_ADDRESS is set, then no embedded server is used', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233' });
    expect(config.temporal).toMatchObject({ embedded: false, address: 'temporal.internal:7233' });
  });

  it('when variables are invalid, then start-up fails naming each of them', () => {
    expect(() => loadConfig({ PORT: 'eighty', ASR_SIM_LATENCY_MS: '10-5', ASR_URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', ASR_SIM_LATENCY_MS: '10-5', ASR_URL: 'not a url', ASR_SIM_FAIL_PATTERN: '(' });
    } catch (err) {
      const message = (err as Error).message;
      for (const name of ['PORT', 'ASR_SIM_LATENCY_MS', 'ASR_URL', 'ASR_SIM_FAIL_PATTERN']) {
        expect(message).toContain(name);
      }
    }
  });

  it('when authentication is turned off, then it is refused unless the API listens on loopback', () => {
    expect(loadConfig({ AUTH_METHODS: 'none' }).auth.methods).toEqual(['none']);
    expect(loadConfig({ AUTH_METHODS: 'none', HOST: '::1' }).auth.methods).toEqual(['none']);
    expect(() => loadConfig({ AUTH_METHODS: 'none', HOST: '0.0.0.0' })).toThrow(/AUTH_METHODS=none.*loopback/);
    expect(() => loadConfig({ AUTH_METHODS: 'none,api-key' })).toThrow(/AUTH_METHODS/);
    expect(() => loadConfig({ AUTH_METHODS: 'password' })).toThrow(/AUTH_METHODS/);
  });

  it('when tokens are accepted, then their secret or keys, issuer and audience are required, all named at once', () => {
    expect(() => loadConfig({ AUTH_METHODS: 'jwt, api-key' })).toThrow(
      /JWT_HS256_SECRET or JWT_JWKS_FILE: one is required[^]*JWT_ISSUER: required[^]*JWT_AUDIENCE: required/,
    );
    const jwt = {
      JWT_HS256_SECRET: 's'.repeat(32),
      JWT_ISSUER: 'https://Login.Example.com/tenant',
      JWT_AUDIENCE: 'api',
    };
    const config = loadConfig({ ...jwt, AUTH_METHODS: 'jwt, api-key' });
    expect(config.auth.methods).toEqual(['jwt', 'api-key']);
    // A token's caller is `jwt:<alias>:<claim>`: the alias is the issuer's host name unless one is given.
    expect(config.auth.jwt.issuerAlias).toBe('login.example.com');
    expect(loadConfig({ ...jwt, AUTH_METHODS: 'jwt', JWT_ISSUER_ALIAS: 'corp' }).auth.jwt.issuerAlias).toBe('corp');
    expect(() => loadConfig({ ...jwt, AUTH_METHODS: 'jwt', JWT_ISSUER: 'urn:Corporate Login' })).toThrow(
      /JWT_ISSUER_ALIAS: required, since JWT_ISSUER has no host name/,
    );
    expect(
      loadConfig({ ...jwt, AUTH_METHODS: 'jwt', JWT_ISSUER: 'urn:Corporate Login', JWT_ISSUER_ALIAS: 'corp' }).auth.jwt
        .issuerAlias,
    ).toBe('corp');
  });

  it('when token users would keep bare user ids beside API keys, then start-up refuses it; a bad issuer alias is named', () => {
    const jwt = { JWT_HS256_SECRET: 's'.repeat(32), JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'api' };
    expect(loadConfig({ ...jwt, AUTH_METHODS: 'jwt', JWT_PLAIN_USER_IDS: 'true' }).auth.jwt.plainUserIds).toBe(true);
    expect(() => loadConfig({ ...jwt, AUTH_METHODS: 'api-key,jwt', JWT_PLAIN_USER_IDS: 'true' })).toThrow(
      /JWT_PLAIN_USER_IDS: refused with AUTH_METHODS including api-key/,
    );
    expect(() => loadConfig({ ...jwt, AUTH_METHODS: 'jwt', JWT_ISSUER_ALIAS: 'Not An Alias' })).toThrow(
      /JWT_ISSUER_ALIAS/,
    );
  });

  it('when callbacks are allowed, then a signing secret is required and every origin must be one', () => {
    expect(() => loadConfig({ CALLBACK_URL_ALLOWLIST: 'https://hooks.example.com' })).toThrow(
      /CALLBACK_SIGNING_SECRET: required when CALLBACK_URL_ALLOWLIST is set/,
    );
    expect(() =>
      loadConfig({ CALLBACK_URL_ALLOWLIST: 'hooks.example.com', CALLBACK_SIGNING_SECRET: 'x'.repeat(32) }),
    ).toThrow(/CALLBACK_URL_ALLOWLIST="hooks.example.com": "hooks.example.com" is not an origin/);
    expect(() => loadConfig({ CALLBACK_SIGNING_SECRET: 'short' })).toThrow(
      /CALLBACK_SIGNING_SECRET=\(hidden\): must be at least 32 characters/,
    );
    const config = loadConfig({
      CALLBACK_URL_ALLOWLIST: 'https://hooks.example.com, https://*.example.org',
      CALLBACK_SIGNING_SECRET: 'x'.repeat(32),
    });
    expect(config.callbacks).toMatchObject({
      allowList: ['https://hooks.example.com', 'https://*.example.org'],
      taskQueue: 'transcription-callbacks',
    });
  });

  it('when the longest retry backoff is shorter than the first, then start-up stops naming the variable', () => {
    expect(() => loadConfig({ CHUNK_RETRY_INITIAL_INTERVAL_MS: '60000' })).toThrow(
      /CHUNK_RETRY_MAX_INTERVAL_MS: must be at least CHUNK_RETRY_INITIAL_INTERVAL_MS \(60000\)/,
    );
    expect(
      loadConfig({ CHUNK_RETRY_INITIAL_INTERVAL_MS: '60000', CHUNK_RETRY_MAX_INTERVAL_MS: '60000' }).chunkRetry,
    ).toMatchObject({ initialIntervalMs: 60_000, maximumIntervalMs: 60_000 });
  });

  it('when a TLS setting for Temporal is given, then TLS is on; a client certificate needs its key', () => {
    expect(loadConfig({}).temporal.tls).toBeUndefined();
    expect(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.tls).toEqual({
      caFile: undefined,
      certFile: undefined,
      keyFile: undefined,
      serverName: undefined,
    });
    expect(loadConfig({ TEMPORAL_API_KEY: 'cloud-key' }).temporal).toMatchObject({ apiKey: 'cloud-key', tls: {} });
    expect(loadConfig({ TEMPORAL_TLS_CA_FILE: 'ca.pem' }).temporal.tls?.caFile).toBe(path.resolve('ca.pem'));
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_FILE: 'client.pem' })).toThrow(
      /TEMPORAL_TLS_KEY_FILE: required with TEMPORAL_TLS_CERT_FILE, for mutual TLS/,
    );
    expect(() => loadConfig({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS="yes": expected true or false/);
    expect(loadConfig({ TEMPORAL_PREPARE_NAMESPACE: 'false' }).temporal.prepareNamespace).toBe(false);
  });

  it('when loaded, then the configuration cannot be changed afterwards', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config.chunkRetry)).toBe(true);
  });

  it('when several values are bad and settings contradict each other, then one error reports every problem', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      TEMPORAL_TLS: 'yes',
      CHUNK_RETRY_INITIAL_INTERVAL_MS: '60000',
      TEMPORAL_TLS_CERT_FILE: 'client.pem',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^PORT="eighty": /),
      'TEMPORAL_TLS="yes": expected true or false',
      'CHUNK_RETRY_MAX_INTERVAL_MS: must be at least CHUNK_RETRY_INITIAL_INTERVAL_MS (60000)',
      'TEMPORAL_TLS_KEY_FILE: required with TEMPORAL_TLS_CERT_FILE, for mutual TLS',
    ]);
  });

  it('when a value is bad, then the checks that compare it with others are skipped rather than misreport', () => {
    expect(problemsOf({ CHUNK_RETRY_INITIAL_INTERVAL_MS: 'soon', AUTH_METHODS: 'none', HOST: '0.0.0.0' })).toEqual([
      expect.stringMatching(/^CHUNK_RETRY_INITIAL_INTERVAL_MS="soon": /),
      expect.stringMatching(/^AUTH_METHODS=none: authentication may be off only when the API listens on loopback/),
    ]);
  });

  it('when secrets are wrong, then their values appear nowhere in the error', () => {
    const secrets = { CALLBACK_SIGNING_SECRET: 'too-short-signing-secret', S3_SECRET_ACCESS_KEY: 's3-secret-value' };
    let message = '';
    try {
      loadConfig({ ...secrets, CALLBACK_URL_ALLOWLIST: 'not an origin', TEMPORAL_API_KEY: 'cloud-key', PORT: 'x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('CALLBACK_SIGNING_SECRET=(hidden): must be at least 32 characters');
    expect(message).toContain('CALLBACK_URL_ALLOWLIST="not an origin"');
    for (const value of [...Object.values(secrets), 'cloud-key']) expect(message).not.toContain(value);
  });

  it('when the worker loads its configuration, then ASR_URL is required with the other problems', () => {
    expect(problemsOf({}, { process: 'worker' })).toEqual(['ASR_URL: required by the worker']);
    expect(problemsOf({ PORT: 'x' }, { process: 'worker' })).toEqual([
      expect.stringMatching(/^PORT="x": /),
      'ASR_URL: required by the worker',
    ]);
    expect(problemsOf({ ASR_URL: 'not a url' }, { process: 'worker' })).toEqual([
      'ASR_URL="not a url": not a valid URL',
    ]);
    expect(loadConfig({ ASR_URL: 'http://asr:8000' }, { process: 'worker' }).asr.url).toBe('http://asr:8000');
    expect(loadConfig({}).asr.url).toBeUndefined();
  });

  it('when settings are declared, then each variable is declared once', () => {
    expect(Object.keys(CONFIG_VARIABLES)).toHaveLength(listSettings(SETTINGS).length);
  });

  it('when docs/configuration.md is compared with the settings, then it is up to date', () => {
    const file = readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(file === renderConfigurationDoc() ? 'up to date' : 'stale: run `npm run docs`').toBe('up to date');
  });
});
