import { isIPv4, isIPv6 } from 'node:net';

/** IPv4 ranges a callback must not reach unless the operator opts in: [prefix, bits, what it is]. */
const PRIVATE_V4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast'],
];

/** The same for IPv6 (IPv4 embedded in IPv6 is judged as the IPv4 address it carries). */
const PRIVATE_V6: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

/**
 * Why a callback may not connect to this address (`loopback`, `private`, …), or `undefined` for a public one.
 * IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`) and NAT64 (`64:ff9b::7f00:1`) addresses are
 * judged by the IPv4 address inside them, as that is where they lead.
 */
export function nonPublicAddress(address: string): string | undefined {
  if (isIPv4(address)) return inRanges(v4Bytes(address), PRIVATE_V4, v4Bytes);
  if (!isIPv6(address)) return 'not an IP address';
  const bytes = v6Bytes(address);
  const zeros = (from: number, to: number) => bytes.subarray(from, to).every((byte) => byte === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12) && !zeros(12, 14);
  const nat64 = bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12);
  if (mapped || compatible || nat64) {
    const inner = inRanges(bytes.subarray(12), PRIVATE_V4, v4Bytes);
    return inner && `${inner} (IPv4 inside IPv6)`;
  }
  return inRanges(bytes, PRIVATE_V6, v6Bytes);
}

function inRanges(
  bytes: Uint8Array,
  ranges: readonly [string, number, string][],
  parse: (address: string) => Uint8Array,
): string | undefined {
  for (const [prefix, bits, name] of ranges) {
    if (samePrefix(bytes, parse(prefix), bits)) return name;
  }
  return undefined;
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let bit = 0; bit < bits; bit += 8) {
    const mask = bits - bit >= 8 ? 0xff : (0xff << (8 - (bits - bit))) & 0xff;
    if (((a[bit / 8] ?? 0) & mask) !== ((b[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function v4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** The 16 bytes of an IPv6 address, `::` expanded and a dotted IPv4 tail read as its 4 bytes. */
function v6Bytes(address: string): Uint8Array {
  let text = address.replace(/%.*$/, '').toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (tail) {
    const [a, b, c, d] = v4Bytes(tail);
    text = `${text.slice(0, -tail.length)}${(((a ?? 0) << 8) | (b ?? 0)).toString(16)}:${(((c ?? 0) << 8) | (d ?? 0)).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}
