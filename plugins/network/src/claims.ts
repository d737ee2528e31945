/**
 * Address claims: which box holds which address, in the plugin's state (SQLite, shared by
 * every process of the host). A claim is one key per address taken with the store's atomic
 * `claim`, so two boxes — or two processes — never get the same address; claims live until
 * the box is destroyed, across stops, restarts and crashes.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { contains, formatAddress, parseAddress, usable } from './ip.js';
import { type Pool, STATE_NAMESPACE } from './pools.js';

const CLAIM_KEY = 'addr:';

export interface Claim {
  box: string;
  pool: string;
  address: string;
  prefix: number;
  gateway: string;
  family: 4 | 6;
}

interface ClaimRecord {
  box: string;
  pool: string;
}

/** How far `claimNext` looks in a pool before calling it full (an IPv6 /64 is never scanned whole). */
const SCAN_LIMIT = 65_536n;

/** A static address of a box's config: `ADDR` or `ADDR/PREFIX`, checked against the pools. */
export interface StaticAddress {
  pool: Pool;
  address: string;
}

export function parseStaticAddress(text: string, pools: readonly Pool[], field: string): StaticAddress {
  const [addressText = '', prefixText] = text.split('/');
  const parsed = parseAddress(addressText);
  if (!parsed || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: '${text}' is not an address (ADDR or ADDR/PREFIX)`, { details: { field } });
  }
  const pool = pools.find((candidate) => contains(candidate.cidr, parsed.family, parsed.value));
  if (!pool) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: ${addressText} is outside every address pool (${pools.map((p) => p.subnet).join(', ') || 'none'})`, {
      details: { field },
    });
  }
  if (prefixText !== undefined && Number(prefixText) !== pool.prefix) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: /${prefixText} is not the prefix of pool '${pool.name}' (${pool.subnet})`, { details: { field } });
  }
  if (!usable(pool.cidr, parsed.value, pool.gatewayValue)) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: ${addressText} is the network, broadcast or gateway address of pool '${pool.name}'`, {
      details: { field },
    });
  }
  return { pool, address: formatAddress(parsed.family, parsed.value) };
}

export class Claims {
  constructor(private readonly state: PluginStateStore) {}

  private entries(): { address: string; record: ClaimRecord }[] {
    return this.state
      .list(STATE_NAMESPACE, CLAIM_KEY)
      .map((entry) => ({ address: entry.key.slice(CLAIM_KEY.length), record: JSON.parse(entry.value) as ClaimRecord }));
  }

  /** The box holding an address, if any. */
  holder(address: string): string | undefined {
    const value = this.state.get(STATE_NAMESPACE, `${CLAIM_KEY}${address}`);
    return value ? (JSON.parse(value) as ClaimRecord).box : undefined;
  }

  /** The box's addresses, with their pools' prefix and gateway (a pool gone since: left out). */
  of(box: string, pools: readonly Pool[]): Claim[] {
    return this.entries()
      .filter((entry) => entry.record.box === box)
      .flatMap(({ address, record }) => {
        const pool = pools.find((candidate) => candidate.name === record.pool);
        return pool ? [{ box, pool: pool.name, address, prefix: pool.prefix, gateway: pool.gateway, family: pool.family }] : [];
      });
  }

  countIn(pool: Pool): number {
    return this.entries().filter((entry) => entry.record.pool === pool.name).length;
  }

  /** Takes a given address for the box; E_ALREADY_EXISTS (naming the field) when another box holds it. */
  claimStatic(box: string, wanted: StaticAddress, field: string): void {
    const key = `${CLAIM_KEY}${wanted.address}`;
    if (this.state.claim(STATE_NAMESPACE, key, JSON.stringify({ box, pool: wanted.pool.name } satisfies ClaimRecord))) return;
    const holder = this.holder(wanted.address);
    if (holder === box) return;
    throw new NsboxError('E_ALREADY_EXISTS', `${field}: ${wanted.address} is in use by another box`, { details: { field } });
  }

  /**
   * Takes the lowest free address of the pool for the box. The addresses claimed are read in
   * one query and skipped, so the 1,000th box tries one insert, not a thousand; the atomic
   * claim still decides a race with another process.
   */
  claimNext(box: string, pool: Pool): string {
    const record = JSON.stringify({ box, pool: pool.name } satisfies ClaimRecord);
    const taken = new Set(this.entries().map((entry) => entry.address));
    const span = 1n << BigInt((pool.family === 4 ? 32 : 128) - pool.prefix);
    const end = span < SCAN_LIMIT ? span : SCAN_LIMIT;
    for (let offset = 1n; offset < end; offset++) {
      const value = pool.cidr.network + offset;
      if (!usable(pool.cidr, value, pool.gatewayValue)) continue;
      const address = formatAddress(pool.family, value);
      if (!taken.has(address) && this.state.claim(STATE_NAMESPACE, `${CLAIM_KEY}${address}`, record)) return address;
    }
    throw new NsboxError('E_QUOTA_EXCEEDED', `address pool '${pool.name}' (${pool.subnet}) has no free address`, {
      details: { field: 'network', pool: pool.name },
    });
  }

  /** Frees one address of the box (nothing when the box does not hold it). */
  releaseOne(box: string, address: string): void {
    if (this.holder(address) === box) this.state.delete(STATE_NAMESPACE, `${CLAIM_KEY}${address}`);
  }

  /** Frees every address of the box (idempotent). */
  release(box: string): string[] {
    const released = this.entries().filter((entry) => entry.record.box === box);
    for (const { address } of released) this.state.delete(STATE_NAMESPACE, `${CLAIM_KEY}${address}`);
    return released.map((entry) => entry.address);
  }
}
