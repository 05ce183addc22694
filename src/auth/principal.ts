export type Role = 'user' | 'operator';
export const ROLES: readonly Role[] = ['user', 'operator'];

/** Who a request acts for, as proven by its credentials. */
export interface Principal {
  userId: string;
  role: Role;
  method: 'api-key' | 'jwt' | 'session';
}

/** User ids go into visibility queries and job ids, so they keep to a plain alphabet. */
export const USER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
