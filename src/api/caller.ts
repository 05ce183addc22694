import type { Principal } from '../auth/principal';
import { HttpError } from './http-error';

/** Who is calling: a principal proven by credentials, or anyone at all when authentication is off (loopback only). */
export type Caller = { authenticated: true; principal: Principal } | { authenticated: false };

/**
 * The user a submission or search is for. Users act as themselves: naming anyone else is refused with 403.
 * Operators may search any user's jobs but submit only their own. Without authentication the request must
 * name the user.
 */
export function actingUserId(caller: Caller, requested: string | undefined, action: 'submit' | 'search'): string {
  if (!caller.authenticated) {
    if (requested === undefined) {
      throw new HttpError(400, 'invalid_request', 'userId is required when authentication is off', [
        { field: 'userId', message: 'required when authentication is off' },
      ]);
    }
    return requested;
  }
  const { principal } = caller;
  if (requested === undefined || requested === principal.userId) return principal.userId;
  if (action === 'search' && principal.role === 'operator') return requested;
  throw new HttpError(
    403,
    'forbidden',
    `these credentials act for ${principal.userId} and cannot ${action} for another user`,
    [{ field: 'userId', message: "must be the caller's own user id" }],
  );
}

/** Whether the caller may read a job owned by `ownerUserId`. A job the caller may not see is answered as absent. */
export function mayRead(caller: Caller, ownerUserId: string): boolean {
  return !caller.authenticated || caller.principal.role === 'operator' || caller.principal.userId === ownerUserId;
}
