import { randomBytes } from 'node:crypto';

/**
 * A fresh development API key for each user (`ops` is the operator), and the `API_KEYS` value that hands them to
 * the API process.
 */
export function testApiKeys<const User extends string>(
  users: readonly User[],
): { keys: Record<User, string>; API_KEYS: string } {
  const keys = Object.fromEntries(users.map((user) => [user, `test_${user}_${randomBytes(16).toString('hex')}`]));
  return {
    keys: keys as Record<User, string>,
    API_KEYS: users.map((user) => `${keys[user]}:${user}:${user === 'ops' ? 'operator' : 'user'}`).join(','),
  };
}
