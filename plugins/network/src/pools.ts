/**
 * Address pools: those of host.json and those made with `nsbox net pool create` (kept in the
 * plugin's state). Pools never overlap; each has a gateway (the bridge's address in it).
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { type Cidr, type Family, formatAddress, formatCidr, overlaps, parseAddress, parseCidr, usable } from './ip.js';
import type { PoolSettings } from './settings.js';

export const STATE_NAMESPACE = 'network';
const POOL_KEY = 'pool:';

export interface Pool {
  name: string;
  subnet: string;
  gateway: string;
  family: Family;
  prefix: number;
  /** Where it is defined: host.json or made from the CLI/API. */
  source: 'host-config' | 'created';
  cidr: Cidr;
  gatewayValue: bigint;
  /** Only this tenant's boxes draw from it; absent: shared. */
  tenant?: string;
}

/**
 * The pools a box draws its addresses from: its tenant's, when the tenant has any; else the
 * shared ones. A box never gets an address of another tenant's pool.
 */
export function poolsFor(pools: readonly Pool[], owner: string | null | undefined): Pool[] {
  const own = owner ? pools.filter((pool) => pool.tenant === owner) : [];
  return own.length > 0 ? own : pools.filter((pool) => pool.tenant === undefined);
}

function invalid(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', message, { details: { field } });
}

/** Checks one pool definition; errors name the field (`subnet`, `gateway`) under `fieldPrefix`. */
export function definePool(input: PoolSettings, source: Pool['source'], fieldPrefix = ''): Pool {
  const cidr = parseCidr(input.subnet);
  if (typeof cidr === 'string') throw invalid(`${fieldPrefix}subnet`, `pool '${input.name}': subnet ${cidr}`);
  let gatewayValue = cidr.network + 1n;
  if (input.gateway !== undefined) {
    const gateway = parseAddress(input.gateway);
    if (!gateway) throw invalid(`${fieldPrefix}gateway`, `pool '${input.name}': gateway '${input.gateway}' is not an IPv4 or IPv6 address`);
    if (gateway.family !== cidr.family || !usable(cidr, gateway.value, -1n)) {
      throw invalid(`${fieldPrefix}gateway`, `pool '${input.name}': gateway ${input.gateway} is not a host address of ${formatCidr(cidr)}`);
    }
    gatewayValue = gateway.value;
  }
  return {
    name: input.name,
    subnet: formatCidr(cidr),
    gateway: formatAddress(cidr.family, gatewayValue),
    family: cidr.family,
    prefix: cidr.prefix,
    source,
    cidr,
    gatewayValue,
    ...(input.tenant ? { tenant: input.tenant } : {}),
  };
}

export class Pools {
  constructor(
    private readonly state: PluginStateStore,
    private readonly configured: readonly PoolSettings[],
  ) {}

  list(): Pool[] {
    const fromConfig = this.configured.map((pool, index) => definePool(pool, 'host-config', `settings.network.pools[${index}].`));
    const created = this.state.list(STATE_NAMESPACE, POOL_KEY).map((entry) => definePool(JSON.parse(entry.value) as PoolSettings, 'created'));
    return [...fromConfig, ...created.filter((pool) => !fromConfig.some((other) => other.name === pool.name))];
  }

  get(name: string): Pool | undefined {
    return this.list().find((pool) => pool.name === name);
  }

  /** Makes a pool: refused when the name is taken or its subnet overlaps another pool's. */
  create(input: PoolSettings): Pool {
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(input.name)) {
      throw invalid('name', `pool name '${input.name}': lower-case letters, digits, _ and -, at most 32, starting with a letter or digit`);
    }
    const pool = definePool(input, 'created');
    const existing = this.list();
    if (existing.some((other) => other.name === pool.name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a pool named '${pool.name}' exists`, { details: { field: 'name' } });
    }
    const clash = existing.find((other) => other.family === pool.family && overlapsPool(other, pool));
    if (clash) throw invalid('subnet', `subnet ${pool.subnet} overlaps pool '${clash.name}' (${clash.subnet})`);
    const record: PoolSettings = { name: pool.name, subnet: pool.subnet, gateway: pool.gateway, ...(pool.tenant ? { tenant: pool.tenant } : {}) };
    if (!this.state.claim(STATE_NAMESPACE, `${POOL_KEY}${pool.name}`, JSON.stringify(record))) {
      throw new NsboxError('E_ALREADY_EXISTS', `a pool named '${pool.name}' exists`, { details: { field: 'name' } });
    }
    return pool;
  }

  /** Forgets a pool made from the CLI/API that no box holds an address of. */
  remove(name: string, claimsIn: (pool: Pool) => number): void {
    const pool = this.get(name);
    if (!pool) throw new NsboxError('E_NOT_FOUND', `no pool named '${name}'`, { details: { field: 'name' } });
    if (pool.source === 'host-config') throw invalid('name', `pool '${name}' is defined in host.json; remove it there`);
    const held = claimsIn(pool);
    if (held > 0) throw new NsboxError('E_BUSY', `pool '${name}' still has ${held} address(es) held by boxes`, { details: { field: 'name' } });
    this.state.delete(STATE_NAMESPACE, `${POOL_KEY}${name}`);
  }
}

function overlapsPool(a: Pool, b: Pool): boolean {
  return overlaps(a.cidr, b.cidr);
}

/** Host-config pools checked together at load: each valid, none overlapping. */
export function checkConfiguredPools(pools: readonly PoolSettings[]): void {
  const defined = pools.map((pool, index) => definePool(pool, 'host-config', `settings.network.pools[${index}].`));
  defined.forEach((pool, index) => {
    const clash = defined.slice(0, index).find((other) => other.family === pool.family && overlapsPool(other, pool));
    if (clash)
      throw new NsboxError('E_INVALID_CONFIG', `pool '${pool.name}' overlaps pool '${clash.name}'`, {
        details: { field: `settings.network.pools[${index}].subnet` },
      });
    if (defined.slice(0, index).some((other) => other.name === pool.name)) {
      throw new NsboxError('E_INVALID_CONFIG', `two pools are named '${pool.name}'`, { details: { field: `settings.network.pools[${index}].name` } });
    }
  });
}
