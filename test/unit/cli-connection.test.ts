import { UsageError } from '../../src/cli/cli-args';
import { resolveConnection } from '../../src/cli/connection-settings';

describe('the CLI API address and key', () => {
  it('when nothing is given, then the API is the local default and no key is sent', () => {
    expect(resolveConnection({}, {})).toEqual({ apiUrl: 'http://127.0.0.1:3000', apiKey: undefined });
  });

  it('when both a flag and its variable are set, then the flag wins; an empty variable counts as unset', () => {
    const env = { TRANSCRIBE_API_URL: 'https://env.example.com/api/', TRANSCRIBE_API_KEY: 'env-key' };
    expect(resolveConnection({ apiKey: 'flag-key' }, env)).toEqual({
      apiUrl: 'https://env.example.com/api',
      apiKey: 'flag-key',
    });
    expect(resolveConnection({ apiUrl: 'http://flag:3000' }, { ...env, TRANSCRIBE_API_KEY: '' })).toEqual({
      apiUrl: 'http://flag:3000',
      apiKey: undefined,
    });
  });

  it.each([
    [{ apiUrl: 'not a url' }, {}, '--api-url: is not a URL, e.g. http://127.0.0.1:3000'],
    [{}, { TRANSCRIBE_API_URL: 'ftp://files' }, 'TRANSCRIBE_API_URL: must be an http:// or https:// URL'],
    [
      {},
      { TRANSCRIBE_API_URL: 'http://me:secret@api' },
      'TRANSCRIBE_API_URL: must not carry credentials; give the key apart',
    ],
    [{ apiKey: '' }, {}, '--api-key: is empty'],
    [{}, { TRANSCRIBE_API_KEY: 'two words' }, 'TRANSCRIBE_API_KEY: must be printable ASCII without spaces'],
  ])('when given %j and env %j, then the usage error names where the bad value came from', (flags, env, message) => {
    expect(() => resolveConnection(flags, env)).toThrow(new UsageError(message));
  });
});
