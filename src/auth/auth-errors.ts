/**
 * Credentials are missing (`missing`) or do not prove anything (`invalid_token`). The message is safe to show the
 * client: it never contains the credential or any part of it.
 */
export class AuthenticationError extends Error {
  constructor(
    readonly challenge: 'missing' | 'invalid_token',
    message: string,
  ) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

const REALM = 'transcription';

/** The `WWW-Authenticate` value of a 401, per RFC 6750 section 3. */
export function wwwAuthenticate(error?: AuthenticationError): string {
  if (!error || error.challenge === 'missing') return `Bearer realm="${REALM}"`;
  const description = error.message.replace(/["\\]/g, "'");
  return `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
}
