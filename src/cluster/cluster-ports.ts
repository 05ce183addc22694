import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** The services of a Temporal server; each cluster process runs one of them. */
export type TemporalService = 'frontend' | 'history' | 'matching' | 'worker';

/** One process of the cluster and where it listens. */
export interface ProcessPorts {
  /** `<service>-<n>`: its pid file is `<name>.pid`, its log `<name>.log`. */
  name: string;
  service: TemporalService;
  grpc: number;
  /** Ringpop's port, over which the processes of the cluster gossip about who runs what. */
  membership: number;
  /** The frontend's HTTP API (Temporal's JSON-over-HTTP gateway); the other services have none. */
  http?: number;
}

export interface ClusterPorts {
  /** In start order: the frontend comes last, so that once it serves, everything behind it is there. */
  processes: ProcessPorts[];
  postgres: number;
}

/**
 * Each port as an offset from TEMPORAL_PORT, the frontend's gRPC port. With the default 7233 these are Temporal's
 * own defaults (gRPC 7233-7239, membership 300 below, frontend HTTP 7243), the second history process taking the
 * ports 10 above the first (7244, 6944); PostgreSQL takes TEMPORAL_PORT + 30 (7263).
 */
const LAYOUT: { name: string; service: TemporalService; grpc: number; membership: number; http?: number }[] = [
  { name: 'history-1', service: 'history', grpc: 1, membership: -299 },
  { name: 'history-2', service: 'history', grpc: 11, membership: -289 },
  { name: 'matching-1', service: 'matching', grpc: 2, membership: -298 },
  { name: 'worker-1', service: 'worker', grpc: 6, membership: -294 },
  { name: 'frontend-1', service: 'frontend', grpc: 0, membership: -300, http: 10 },
];
const POSTGRES_OFFSET = 30;
const LOWEST_OFFSET = Math.min(...LAYOUT.map((entry) => entry.membership));
const HIGHEST_MEMBERSHIP_OFFSET = Math.max(...LAYOUT.map((entry) => entry.membership));
const HIGHEST_OFFSET = Math.max(POSTGRES_OFFSET, ...LAYOUT.map((entry) => Math.max(entry.grpc, entry.http ?? 0)));
/**
 * On PostgreSQL, Temporal's membership table keeps each process's membership port in a SMALLINT column
 * (cluster_membership.rpc_port): a port above 32767 makes the process fail at start ("value is out of range for
 * type smallint"). So no membership port may be above it, which Linux's ephemeral ports (32768 and up) all are.
 */
const MAX_MEMBERSHIP_PORT = 32767;
const LOWEST_PORT = 1024;
/** Where a test's cluster (TEMPORAL_PORT=0) looks for a free block: unprivileged, below the ephemeral range. */
const FREE_BLOCK_RANGE = { from: 10_000 - LOWEST_OFFSET, to: MAX_MEMBERSHIP_PORT - HIGHEST_OFFSET };
const FREE_BLOCK_ATTEMPTS = 50;

/**
 * Every port of the cluster, derived from the frontend's: fixed, so that a restarted process, or PostgreSQL
 * restarted under running Temporal processes, comes back where the others look for it. Port 0 (tests) takes a block
 * that is free at the moment, laid out the same way.
 */
export async function clusterPorts(frontendPort: number): Promise<ClusterPorts> {
  const base = frontendPort === 0 ? await freeBlock() : frontendPort;
  if (base + LOWEST_OFFSET < LOWEST_PORT || base + HIGHEST_MEMBERSHIP_OFFSET > MAX_MEMBERSHIP_PORT) {
    throw new Error(
      `TEMPORAL_PORT=${base} leaves no room for the cluster's other ports (TEMPORAL_PORT${LOWEST_OFFSET} to ` +
        `TEMPORAL_PORT+${HIGHEST_OFFSET}, membership ports at most ${MAX_MEMBERSHIP_PORT}, a limit of Temporal's ` +
        `PostgreSQL schema): choose a port from ${LOWEST_PORT - LOWEST_OFFSET} to ` +
        `${MAX_MEMBERSHIP_PORT - HIGHEST_MEMBERSHIP_OFFSET}`,
    );
  }
  return {
    processes: LAYOUT.map(({ name, service, grpc, membership, http }) => ({
      name,
      service,
      grpc: base + grpc,
      membership: base + membership,
      ...(http === undefined ? {} : { http: base + http }),
    })),
    postgres: base + POSTGRES_OFFSET,
  };
}

/** A frontend port whose every derived port is free at the moment; another process may still take one first. */
async function freeBlock(): Promise<number> {
  for (let attempt = 1; attempt <= FREE_BLOCK_ATTEMPTS; attempt++) {
    const base = randomInt(FREE_BLOCK_RANGE.from, FREE_BLOCK_RANGE.to + 1);
    const offsets = new Set([
      POSTGRES_OFFSET,
      ...LAYOUT.flatMap(({ grpc, membership, http }) => [grpc, membership, http ?? grpc]),
    ]);
    const free = await Promise.all([...offsets].map((offset) => canBind(base + offset)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`found no block of free ports for a cluster in ${FREE_BLOCK_ATTEMPTS} tries`);
}

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    // Rejects when the bind fails ('error' instead of 'listening').
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
    return true;
  } catch {
    return false;
  }
}

/** The frontend's ports: the cluster's address. */
export function frontendPorts(ports: ClusterPorts): ProcessPorts {
  const frontend = ports.processes.find((process) => process.service === 'frontend');
  if (!frontend) throw new Error('the cluster has no frontend');
  return frontend;
}
