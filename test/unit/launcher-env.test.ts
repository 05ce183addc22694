import { childEnvironment } from '../../src/config/child-environment';
import { loadConfig } from '../../src/config/config';

describe('childEnvironment', () => {
  it('when the launcher passes values, then the child reads them under their variables and its own env is kept', () => {
    const launcher = { ASR_ENGINE: 'local', LOG_LEVEL: 'warn' };
    const env = childEnvironment(launcher, {
      temporalAddress: '127.0.0.1:7299',
      asrUrl: 'http://127.0.0.1:9001',
      asrTimeoutMs: 180_000,
      asrMaxConcurrentCalls: 2,
      workerMetricsAddress: '127.0.0.1:9464',
    });
    expect(env).toEqual({
      ASR_ENGINE: 'local',
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: '127.0.0.1:7299',
      ASR_URL: 'http://127.0.0.1:9001',
      ASR_TIMEOUT_MS: '180000',
      ASR_MAX_CONCURRENT_CALLS: '2',
      WORKER_METRICS_ADDRESS: '127.0.0.1:9464',
    });
    expect(launcher).toEqual({ ASR_ENGINE: 'local', LOG_LEVEL: 'warn' });
    const child = loadConfig(env, { process: 'worker' });
    expect(child.temporal).toMatchObject({ address: '127.0.0.1:7299', embedded: false });
    expect(child.asr).toMatchObject({ url: 'http://127.0.0.1:9001', timeoutMs: 180_000, maxConcurrentCalls: 2 });
    expect(child.chunkTimeouts.startToCloseMs).toBeGreaterThan(180_000);
    expect(child.worker.metricsAddress).toBe('127.0.0.1:9464');
  });

  it('when the launcher passes nothing for a setting, then the child keeps the value it inherits', () => {
    const env = childEnvironment(
      { ASR_URL: 'http://asr.internal:8000', ASR_TIMEOUT_MS: '5000' },
      {
        temporalAddress: undefined,
        workerMetricsAddress: '127.0.0.1:9464',
      },
    );
    expect(env).toEqual({
      ASR_URL: 'http://asr.internal:8000',
      ASR_TIMEOUT_MS: '5000',
      WORKER_METRICS_ADDRESS: '127.0.0.1:9464',
    });
  });
});
