/** MAC addresses nsbox gives its links. */

import { createHash, randomBytes } from 'node:crypto';

/** Six bytes as a locally administered unicast MAC (`02:…`): never a vendor's, never multicast. */
function localUnicast(bytes: Uint8Array): string {
  const octets = [...bytes.subarray(0, 6)];
  octets[0] = ((octets[0] ?? 0) & 0xfc) | 0x02;
  return octets.map((octet) => octet.toString(16).padStart(2, '0')).join(':');
}

/**
 * The MAC of a box's `eth0`, the same at every start (from a hash of the box id). A fresh random
 * one per start would leave the host's and the other boxes' neighbour caches pointing at the old
 * one for up to a minute: a restarted box is unreachable until their entries go stale and are
 * probed again.
 */
export function boxMacAddress(boxId: string): string {
  return localUnicast(createHash('sha256').update(`nsbox-eth0:${boxId}`).digest());
}

/** A random MAC, for the bridge nsbox makes. */
export function randomMacAddress(): string {
  return localUnicast(randomBytes(6));
}

/** The IPv6 link-local address the kernel gives a link of this MAC (EUI-64, RFC 4291 appendix A), as a 128-bit number. */
export function linkLocalOf(mac: string): bigint {
  const octets = mac.split(':').map((octet) => Number.parseInt(octet, 16));
  const eui64 = [(octets[0] ?? 0) ^ 0x02, octets[1] ?? 0, octets[2] ?? 0, 0xff, 0xfe, octets[3] ?? 0, octets[4] ?? 0, octets[5] ?? 0];
  return (0xfe80n << 112n) | eui64.reduce((sum, octet) => (sum << 8n) | BigInt(octet), 0n);
}
