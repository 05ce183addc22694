import type { ParsedByEnv } from './setting';
import { issuerHostAlias, type SETTINGS } from './settings';

type Values = ParsedByEnv<typeof SETTINGS>;
type Variable = keyof Values;

/** A rule between settings: the variables it reads, and the problem it finds in their values, if any. */
interface CrossCheck {
  reads: readonly Variable[];
  problem(values: Values): string | undefined;
}

/** Typed so that a check can read only the variables it names: those are the ones it is skipped without. */
function crossCheck<const K extends Variable>(
  reads: readonly K[],
  problem: (values: Pick<Values, K>) => string | undefined,
): CrossCheck {
  return { reads, problem };
}

/** Loopback only: names that cannot be reached from another machine. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Messages name variables and quote only values that are not secret. */
const CROSS_CHECKS: readonly CrossCheck[] = [
  crossCheck(['AUTH_METHODS', 'HOST'], ({ AUTH_METHODS, HOST }) =>
    AUTH_METHODS.includes('none') && !isLoopbackHost(HOST)
      ? `AUTH_METHODS=none: authentication may be off only when the API listens on loopback, and HOST is ${HOST}`
      : undefined,
  ),
  crossCheck(['AUTH_METHODS', 'JWT_PLAIN_USER_IDS'], ({ AUTH_METHODS, JWT_PLAIN_USER_IDS }) =>
    JWT_PLAIN_USER_IDS && AUTH_METHODS.includes('api-key') && AUTH_METHODS.includes('jwt')
      ? "JWT_PLAIN_USER_IDS: refused with AUTH_METHODS including api-key: a token's subject and an API key's user would be one user"
      : undefined,
  ),
  crossCheck(['AUTH_METHODS', 'JWT_HS256_SECRET', 'JWT_JWKS_FILE'], (values) =>
    values.AUTH_METHODS.includes('jwt') && values.JWT_HS256_SECRET === undefined && values.JWT_JWKS_FILE === undefined
      ? 'JWT_HS256_SECRET or JWT_JWKS_FILE: one is required when AUTH_METHODS includes jwt'
      : undefined,
  ),
  crossCheck(['AUTH_METHODS', 'JWT_ISSUER'], ({ AUTH_METHODS, JWT_ISSUER }) =>
    AUTH_METHODS.includes('jwt') && JWT_ISSUER === undefined
      ? 'JWT_ISSUER: required when AUTH_METHODS includes jwt'
      : undefined,
  ),
  crossCheck(['AUTH_METHODS', 'JWT_AUDIENCE'], ({ AUTH_METHODS, JWT_AUDIENCE }) =>
    AUTH_METHODS.includes('jwt') && JWT_AUDIENCE === undefined
      ? 'JWT_AUDIENCE: required when AUTH_METHODS includes jwt'
      : undefined,
  ),
  crossCheck(['AUTH_METHODS', 'JWT_ISSUER', 'JWT_ISSUER_ALIAS', 'JWT_PLAIN_USER_IDS'], (values) =>
    values.AUTH_METHODS.includes('jwt') &&
    !values.JWT_PLAIN_USER_IDS &&
    values.JWT_ISSUER !== undefined &&
    values.JWT_ISSUER_ALIAS === undefined &&
    issuerHostAlias(values.JWT_ISSUER) === undefined
      ? 'JWT_ISSUER_ALIAS: required, since JWT_ISSUER has no host name to use in user ids'
      : undefined,
  ),
  // Temporal refuses such a policy only when the first chunk is scheduled, failing every job; refuse it here.
  crossCheck(
    ['CHUNK_RETRY_INITIAL_INTERVAL_MS', 'CHUNK_RETRY_MAX_INTERVAL_MS'],
    ({ CHUNK_RETRY_INITIAL_INTERVAL_MS: initial, CHUNK_RETRY_MAX_INTERVAL_MS: maximum }) =>
      maximum < initial
        ? `CHUNK_RETRY_MAX_INTERVAL_MS: must be at least CHUNK_RETRY_INITIAL_INTERVAL_MS (${initial})`
        : undefined,
  ),
  crossCheck(
    ['TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE'],
    ({ TEMPORAL_TLS_CERT_FILE, TEMPORAL_TLS_KEY_FILE }) => {
      if ((TEMPORAL_TLS_CERT_FILE === undefined) === (TEMPORAL_TLS_KEY_FILE === undefined)) return undefined;
      return TEMPORAL_TLS_CERT_FILE === undefined
        ? 'TEMPORAL_TLS_CERT_FILE: required with TEMPORAL_TLS_KEY_FILE, for mutual TLS'
        : 'TEMPORAL_TLS_KEY_FILE: required with TEMPORAL_TLS_CERT_FILE, for mutual TLS';
    },
  ),
  crossCheck(['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_SECRET_ACCESS_KEY_FILE'], (values) =>
    values.S3_ACCESS_KEY_ID !== undefined &&
    values.S3_SECRET_ACCESS_KEY === undefined &&
    values.S3_SECRET_ACCESS_KEY_FILE === undefined
      ? 'S3_SECRET_ACCESS_KEY: required with S3_ACCESS_KEY_ID (or S3_SECRET_ACCESS_KEY_FILE)'
      : undefined,
  ),
  crossCheck(['CALLBACK_URL_ALLOWLIST', 'CALLBACK_SIGNING_SECRET'], (values) =>
    values.CALLBACK_URL_ALLOWLIST.length > 0 && values.CALLBACK_SIGNING_SECRET === undefined
      ? 'CALLBACK_SIGNING_SECRET: required when CALLBACK_URL_ALLOWLIST is set, to sign callbacks'
      : undefined,
  ),
];

/**
 * The problems between settings. A check is skipped when a variable it reads could not be parsed: that variable's
 * own problem is already reported, and there is no value to compare.
 */
export function crossFieldProblems(parsed: Readonly<Record<string, unknown>>, unparsed: ReadonlySet<string>): string[] {
  // Every variable that parsed has its value here, so a check that runs finds all it reads.
  const values = parsed as Values;
  return CROSS_CHECKS.filter((check) => check.reads.every((variable) => !unparsed.has(variable))).flatMap(
    (check) => check.problem(values) ?? [],
  );
}
