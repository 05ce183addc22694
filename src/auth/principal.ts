export type Role = 'user' | 'operator';
export const ROLES: readonly Role[] = ['user', 'operator'];

/** Who a request acts for, as proven by its credentials. */
export interface Principal {
  userId: string;
  role: Role;
  method: 'api-key' | 'jwt' | 'session';
  /**
   * The credential that proved it, for what is derived from it (a codec session) to end with it: an API key's
   * stored hash, which removing the key from the key file takes away, and a JWT's expiry.
   */
  credential?: { apiKeyHash?: string; expiresAtMs?: number };
}

/** User ids go into visibility queries and job ids, so they keep to a plain alphabet. */
export const USER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
