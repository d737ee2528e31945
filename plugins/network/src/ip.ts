/**
 * IP addresses and CIDR prefixes, IPv4 and IPv6, as numbers (bigint) — the arithmetic IPAM
 * needs (containment, overlap, the nth address) and nothing else. Pure: no Linux here.
 */

import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** The network address (host bits zero). */
  network: bigint;
  prefix: number;
}

const bits = (family: Family): number => (family === 4 ? 32 : 128);

export function familyOf(address: string): Family | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

export function parseAddress(address: string): { family: Family; value: bigint } | undefined {
  const family = familyOf(address);
  if (family === 4) return { family, value: address.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n) };
  if (family === 6) {
    // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
    let text = address;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4?.[1]) {
      const value = parseAddress(v4[1])?.value ?? 0n;
      text = `${text.slice(0, -v4[1].length)}${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
    }
    const [head = '', tail] = text.split('::');
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
    return { family, value: groups.reduce((sum, group) => (sum << 16n) | BigInt(Number.parseInt(group, 16)), 0n) };
  }
  return undefined;
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
  const groups = Array.from({ length: 8 }, (_, index) => (value >> BigInt((7 - index) * 16)) & 0xffffn);
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = { start: -1, length: 0 };
  for (let index = 0; index < 8; ) {
    if (groups[index] !== 0n) {
      index++;
      continue;
    }
    let end = index;
    while (end < 8 && groups[end] === 0n) end++;
    if (end - index > best.length && end - index >= 2) best = { start: index, length: end - index };
    index = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** Normalises an address (`fd00:0::1` → `fd00::1`); undefined when it is not one. */
export function normalizeAddress(address: string): string | undefined {
  const parsed = parseAddress(address);
  return parsed ? formatAddress(parsed.family, parsed.value) : undefined;
}

/** `10.0.0.0/24`; a set host bit is refused (the caller names the field). */
export function parseCidr(text: string): Cidr | string {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) return `'${text}' is not a CIDR prefix (ADDRESS/LENGTH, e.g. 10.88.0.0/24 or fd88::/64)`;
  const address = parseAddress(match[1] as string);
  if (!address) return `'${match[1]}' is not an IPv4 or IPv6 address`;
  const prefix = Number(match[2]);
  const width = bits(address.family);
  if (prefix > width) return `prefix length ${prefix} is longer than ${width} bits`;
  if (prefix > width - 2) return `a /${prefix} leaves no room for a gateway and a box (at most /${width - 2})`;
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  if ((address.value & hostMask) !== 0n) {
    return `'${text}' has host bits set (the network is ${formatAddress(address.family, address.value & ~hostMask)}/${prefix})`;
  }
  return { family: address.family, network: address.value, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.family, cidr.network)}/${cidr.prefix}`;
}

/** How many addresses the prefix holds. */
export function size(cidr: Cidr): bigint {
  return 1n << BigInt(bits(cidr.family) - cidr.prefix);
}

export function contains(cidr: Cidr, family: Family, value: bigint): boolean {
  return family === cidr.family && value >= cidr.network && value < cidr.network + size(cidr);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network < b.network + size(b) && b.network < a.network + size(a);
}

/**
 * Whether a box may hold `value` in the pool: inside it, not the network address, not the
 * IPv4 broadcast, not the gateway.
 */
export function usable(cidr: Cidr, value: bigint, gateway: bigint): boolean {
  if (!contains(cidr, cidr.family, value) || value === cidr.network || value === gateway) return false;
  return !(cidr.family === 4 && value === cidr.network + size(cidr) - 1n);
}
