import { Client } from 'pg';
import { startPostgres, type PostgresServer } from '../process/postgres-server';
import { SERVER_ENVIRONMENT } from './server-config';

/**
 * Connections the cluster may need: five Temporal processes, each with a pool of up to 20 connections to its store
 * and 10 to visibility (the template's SQL_MAX_CONNS and SQL_VIS_MAX_CONNS defaults, left as the compose file
 * leaves them), is 150, above PostgreSQL's default of 100; the rest is room for psql and the tools.
 */
const MAX_CONNECTIONS = 200;

/**
 * The cluster's PostgreSQL: Debian's PostgreSQL 15 in `dataDir`, on a fixed port (Temporal processes that keep
 * running across a PostgreSQL restart reconnect to the same address). Made ready for Temporal as the compose file's
 * `postgresql` image is: its role `temporal` is a superuser, since the schema job creates the databases and the
 * btree_gin extension visibility needs. Without a password: the server listens on loopback and trusts it.
 */
export async function startClusterPostgres(options: {
  dataDir: string;
  port: number;
  startupTimeoutMs: number;
}): Promise<PostgresServer> {
  const start = () =>
    startPostgres({ dataDir: options.dataDir, port: options.port, startupTimeoutMs: options.startupTimeoutMs });
  let server = await start();
  // ALTER SYSTEM persists in the data folder, so only a new cluster pays this restart.
  if (await raiseMaxConnections(server)) {
    await server.stop();
    server = await start();
  }
  await ensureTemporalRole(server);
  return server;
}

/** Raises max_connections for the next start when it is too low; says whether it did. */
async function raiseMaxConnections(server: PostgresServer): Promise<boolean> {
  return withClient(server, async (client) => {
    const { rows } = await client.query<{ max_connections: string }>('SHOW max_connections');
    if (Number(rows[0]?.max_connections) >= MAX_CONNECTIONS) return false;
    await client.query(`ALTER SYSTEM SET max_connections = ${MAX_CONNECTIONS}`);
    return true;
  });
}

async function ensureTemporalRole(server: PostgresServer): Promise<void> {
  await withClient(server, async (client) => {
    const role = SERVER_ENVIRONMENT.POSTGRES_USER;
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (!rowCount) await client.query(`CREATE ROLE ${client.escapeIdentifier(role)} LOGIN SUPERUSER`);
  });
}

async function withClient<T>(server: PostgresServer, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: server.url('postgres') });
  // A connection the server drops must not crash the process as an unhandled 'error'.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
