import type { TLSConfig } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import { ConfigError, type Config } from '../config/config';

/** How to reach Temporal: what both the client's and the worker's connections take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * The connection options the configuration asks for, with the TLS files read once. A file that cannot be read
 * stops start-up with the variable that names it.
 */
export async function temporalConnectionOptions(temporal: Config['temporal']): Promise<TemporalConnectionOptions> {
  const { tls } = temporal;
  const options: TemporalConnectionOptions = { address: temporal.address };
  if (temporal.apiKey !== undefined) options.apiKey = temporal.apiKey;
  if (!tls) return options;
  const [ca, crt, key] = await Promise.all([
    readPem('TEMPORAL_TLS_CA_FILE', tls.caFile),
    readPem('TEMPORAL_TLS_CERT_FILE', tls.certFile),
    readPem('TEMPORAL_TLS_KEY_FILE', tls.keyFile),
  ]);
  options.tls = {
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
  };
  return options;
}

async function readPem(variable: string, file: string | undefined): Promise<Buffer | undefined> {
  if (file === undefined) return undefined;
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (err) {
    throw new ConfigError([
      `${variable}=${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
    ]);
  }
  if (!content.includes('-----BEGIN ')) {
    throw new ConfigError([`${variable}=${JSON.stringify(file)}: not a PEM file`]);
  }
  return content;
}
