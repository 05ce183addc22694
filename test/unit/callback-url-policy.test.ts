import { CallbackUrlPolicy, parseAllowListEntry } from '../../src/callbacks/callback-url-policy';
import { callbackSigningKey } from '../../src/callbacks/callback-signature';

describe('CallbackUrlPolicy', () => {
  const policy = new CallbackUrlPolicy(
    ['alice=https://hooks.alice.example', 'https://shared.example.com', 'https://*.tenants.example.com'],
    { signingSecret: 'a-signing-secret-of-at-least-32-characters' },
  );

  it('when an entry is bound to a user, then only that user may name it', () => {
    expect(policy.refusal('https://hooks.alice.example/t', 'alice')).toBeUndefined();
    expect(policy.refusal('https://hooks.alice.example/t', 'bob')).toBe(
      'https://hooks.alice.example is not an allowed callback origin for bob',
    );
  });

  it('when an entry is bound to no user, then every user may name it, as before', () => {
    expect(policy.refusal('https://shared.example.com/t', 'alice')).toBeUndefined();
    expect(policy.refusal('https://shared.example.com/t', 'bob')).toBeUndefined();
  });

  it('when a wildcard entry is matched, then it allows exactly one more label', () => {
    expect(policy.refusal('https://a.tenants.example.com/t', 'bob')).toBeUndefined();
    expect(policy.refusal('https://a.b.tenants.example.com/t', 'bob')).toBe(
      'https://a.b.tenants.example.com is not an allowed callback origin',
    );
    expect(policy.refusal('https://tenants.example.com/t', 'bob')).toBe(
      'https://tenants.example.com is not an allowed callback origin',
    );
  });

  it("when a user asks for the key of a URL, then it is that user's own, and none for a URL not allowed to them", () => {
    expect(policy.signingKey('https://hooks.alice.example/t', 'alice')).toEqual({
      key: callbackSigningKey('a-signing-secret-of-at-least-32-characters', 'alice', 'https://hooks.alice.example/t'),
    });
    expect(policy.signingKey('https://hooks.alice.example/t', 'bob')).toEqual({
      refusal: 'https://hooks.alice.example is not an allowed callback origin for bob',
    });
    const keys = ['alice', 'bob'].map((user) => policy.signingKey('https://shared.example.com/t', user));
    expect(keys[0]).not.toEqual(keys[1]);
    expect(
      new CallbackUrlPolicy(['https://shared.example.com']).signingKey('https://shared.example.com/t', 'bob'),
    ).toEqual({
      refusal: 'this service does not sign callbacks',
    });
  });

  it.each([
    ['alice=https://hooks.example.com', { userId: 'alice', host: 'hooks.example.com', subdomains: false }],
    ['https://*.example.com', { userId: undefined, host: 'example.com', subdomains: true }],
  ])('when the entry is %s, then it parses', (entry, expected) => {
    expect(parseAllowListEntry(entry)).toMatchObject(expected);
  });

  it.each([['bad user!=https://hooks.example.com'], ['alice=hooks.example.com'], ['=https://hooks.example.com']])(
    'when the entry is %s, then it is refused',
    (entry) => {
      expect(() => parseAllowListEntry(entry)).toThrow();
    },
  );
});
