import { Client } from 'pg';

/** The cluster's name in the embedded template's `clusterMetadata` (`currentClusterName`). */
const CLUSTER_NAME = 'active';
/** `history_shard_count` in temporal.server.api.persistence.v1.ClusterMetadata (cluster_metadata.proto). */
const SHARD_COUNT_FIELD = 2;

/**
 * Refuses to start the cluster with a shard count other than the one its database was created with. The server
 * itself would start anyway, logging a warning and quietly keeping the first count, so the operator would believe a
 * change took effect that did not: Temporal cannot re-shard an existing cluster.
 */
export async function checkShardCount(url: string, wanted: number): Promise<void> {
  const persisted = await persistedShardCount(url);
  if (persisted !== undefined && persisted !== wanted) {
    throw new Error(
      `this cluster's database was created with ${persisted} history shards, and ${wanted} are configured: the ` +
        `shard count cannot change once a cluster exists. Keep ${persisted}, or start a new cluster in an empty ` +
        'DATA_DIR (moving workflows across means running both and draining the old one).',
    );
  }
}

/** The shard count the cluster's metadata records, or `undefined` before the first server start wrote it. */
export async function persistedShardCount(url: string): Promise<number | undefined> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ data: Buffer; data_encoding: string }>(
      'SELECT data, data_encoding FROM cluster_metadata_info WHERE metadata_partition = 0 AND cluster_name = $1',
      [CLUSTER_NAME],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.data_encoding.toLowerCase() !== 'proto3') {
      throw new Error(`cluster metadata is encoded as ${row.data_encoding}, which this check cannot read`);
    }
    return protoVarintField(row.data, SHARD_COUNT_FIELD) ?? 0;
  } finally {
    await client.end();
  }
}

/**
 * The value of one varint field of a protobuf message, or `undefined` when it is absent (proto3 leaves zero out).
 * Enough of the wire format to walk past the other fields: varints, 64-bit, length-delimited and 32-bit values.
 */
export function protoVarintField(message: Buffer, field: number): number | undefined {
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message[offset++];
      if (byte === undefined) throw new Error('truncated protobuf message');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (offset < message.length) {
    const key = varint();
    const wireType = key % 8;
    const number = Math.floor(key / 8);
    if (wireType === 0) {
      const value = varint();
      if (number === field) return value;
    } else if (wireType === 1) offset += 8;
    else if (wireType === 2) {
      // Read first: `offset += varint()` would add the length to the offset from before the length's own bytes.
      const length = varint();
      offset += length;
    } else if (wireType === 5) offset += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
  return undefined;
}
