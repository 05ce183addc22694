import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';

describe('createLogger', () => {
  it('when a line carries credentials or keys anywhere, then they are redacted', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('api', 'info', sink);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer tsk_leaked_key_1234567890' } },
        config: { asr: { apiKey: 'asr-secret-abc' }, encryption: { keys: 'k1:c2VjcmV0c2VjcmV0' } },
        jwt: { hs256Secret: 'hs-secret-xyz' },
      },
      'request',
    );
    const text = lines.join('');
    for (const secret of ['tsk_leaked_key', 'asr-secret-abc', 'c2VjcmV0c2VjcmV0', 'hs-secret-xyz']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
  });
});
