/**
 * Which addresses a box holds: its mode (its own, or the host's default), its static
 * addresses checked against the pools, and the claims made for it — all or none.
 */

import { type Box, NsboxError } from '@nsbox/core';
import { type Claim, type Claims, parseStaticAddress } from './claims.js';
import type { NetworkConfig, NetworkMode } from './config-schema.js';
import type { Pool, Pools } from './pools.js';
import type { NetworkSettings } from './settings.js';

export function sectionOf(box: Pick<Box, 'config'>): NetworkConfig {
  return ((box.config as { network?: NetworkConfig }).network ?? {}) as NetworkConfig;
}

export class BoxAddresses {
  constructor(
    private readonly settings: NetworkSettings,
    private readonly pools: Pools,
    readonly claims: Claims,
  ) {}

  modeOf(box: Pick<Box, 'config'>): NetworkMode {
    return sectionOf(box).mode ?? this.settings.defaultMode;
  }

  /** Checks the section against the pools and the claims of other boxes; claims nothing. */
  validate(box: Pick<Box, 'id' | 'config'>): void {
    const section = sectionOf(box);
    if (this.modeOf(box) === 'none') {
      if (section.ip?.length)
        throw new NsboxError('E_INVALID_CONFIG', "network.ip: addresses need network mode 'bridge' or 'routed'", { details: { field: 'network.ip' } });
      return;
    }
    const pools = this.poolsOrFail();
    section.ip?.forEach((text, index) => {
      const field = `network.ip[${index}]`;
      const wanted = parseStaticAddress(text, pools, field);
      const holder = this.claims.holder(wanted.address);
      if (holder !== undefined && holder !== box.id) {
        throw new NsboxError('E_ALREADY_EXISTS', `${field}: ${wanted.address} is in use by another box`, { details: { field } });
      }
    });
  }

  private poolsOrFail(): Pool[] {
    const pools = this.pools.list();
    if (pools.length === 0) {
      throw new NsboxError('E_INVALID_CONFIG', "network modes 'bridge' and 'routed' need an address pool: nsbox net pool create NAME --subnet CIDR", {
        details: { field: 'network.mode' },
      });
    }
    return pools;
  }

  /** The box's claims, made now if it has none: its static addresses, or the next free one of every pool. */
  assign(box: Pick<Box, 'id' | 'config'>): Claim[] {
    const pools = this.poolsOrFail();
    const held = this.claims.of(box.id, pools);
    if (held.length > 0) return held;
    try {
      const section = sectionOf(box);
      if (section.ip?.length) {
        section.ip.forEach((text, index) => {
          const field = `network.ip[${index}]`;
          this.claims.claimStatic(box.id, parseStaticAddress(text, pools, field), field);
        });
      } else {
        for (const pool of pools) this.claims.claimNext(box.id, pool);
      }
    } catch (error) {
      // All or none: a box never keeps half its addresses.
      this.claims.release(box.id);
      throw error;
    }
    return this.claims.of(box.id, pools);
  }

  held(box: Pick<Box, 'id'>): Claim[] {
    return this.claims.of(box.id, this.pools.list());
  }

  release(box: Pick<Box, 'id'>): string[] {
    return this.claims.release(box.id);
  }
}
