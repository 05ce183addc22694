import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('when nothing is set, then the embedded defaults apply', () => {
    const config = loadConfig({});
    expect(config.api.port).toBe(3000);
    expect(config.temporal.embedded).toBe(true);
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.temporal.retentionDays).toBe(30);
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
    expect(loadConfig({ AUTH_METHODS: 'jwt, api-key' }).auth.methods).toEqual(['jwt', 'api-key']);
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

  it('when the README documents configuration, then it lists every variable', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    for (const name of Object.keys(CONFIG_VARIABLES)) expect(readme).toContain(`\`${name}\``);
  });
});
