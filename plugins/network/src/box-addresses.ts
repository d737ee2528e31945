/**
 * Which addresses a box holds: its mode (its own, or the host's default), its static
 * addresses checked against the pools, and the claims made for it — all or none.
 */

import { type Box, NsboxError } from '@nsbox/core';
import { type Claim, type Claims, parseStaticAddress } from './claims.js';
import { type NetworkConfig, type NetworkMode, wiredModes } from './config-schema.js';
import { type Pool, type Pools, poolsFor } from './pools.js';
import type { NetworkSettings } from './settings.js';
import { sharedAddresses } from './shared-stack.js';

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

  /** Whether the box has a veth of nsbox's (bridge or routed). */
  wired(box: Pick<Box, 'config'>): boolean {
    return wiredModes.includes(this.modeOf(box));
  }

  /** Checks the section against the pools and the claims of other boxes; claims nothing. */
  validate(box: Pick<Box, 'id' | 'config' | 'owner'>): void {
    const section = sectionOf(box);
    if (!this.wired(box)) {
      const shared = this.modeOf(box) === 'shared';
      if (shared) sharedAddresses(section.ip);
      else if (section.ip?.length)
        throw new NsboxError('E_INVALID_CONFIG', "network.ip: addresses need network mode 'bridge', 'routed' or 'shared'", {
          details: { field: 'network.ip' },
        });
      for (const field of ['rate', 'ingressRate'] as const) {
        if (section[field] !== undefined) {
          throw new NsboxError('E_INVALID_CONFIG', `network.${field}: a rate needs network mode 'bridge' or 'routed'`, {
            details: { field: `network.${field}` },
          });
        }
      }
      return;
    }
    const pools = this.poolsOrFail(box);
    section.ip?.forEach((text, index) => {
      const field = `network.ip[${index}]`;
      const wanted = parseStaticAddress(text, pools, field);
      const holder = this.claims.holder(wanted.address);
      if (holder !== undefined && holder !== box.id) {
        throw new NsboxError('E_ALREADY_EXISTS', `${field}: ${wanted.address} is in use by another box`, { details: { field } });
      }
    });
  }

  /** The pools the box draws from (its tenant's, else the shared ones); refused when there is none. */
  private poolsOrFail(box: Pick<Box, 'owner'>): Pool[] {
    const pools = poolsFor(this.pools.list(), box.owner);
    if (pools.length === 0) {
      throw new NsboxError('E_INVALID_CONFIG', "network modes 'bridge' and 'routed' need an address pool: nsbox net pool create NAME --subnet CIDR", {
        details: { field: 'network.mode' },
      });
    }
    return pools;
  }

  /**
   * The box's claims, made now if it has none: its static addresses, or the next free one of
   * every pool. Static addresses changed since (`nsbox` update of a stopped box) are claimed
   * now, and the old ones freed after — the box never holds none in between.
   */
  assign(box: Pick<Box, 'id' | 'config' | 'owner'>): Claim[] {
    const pools = this.poolsOrFail(box);
    const held = this.claims.of(box.id, this.pools.list());
    const section = sectionOf(box);
    if (held.length > 0 && !section.ip?.length) return held;
    const wanted = section.ip?.map((text, index) => ({ field: `network.ip[${index}]`, address: parseStaticAddress(text, pools, `network.ip[${index}]`) }));
    if (held.length > 0 && wanted) {
      const same = held.length === wanted.length && wanted.every(({ address }) => held.some((claim) => claim.address === address.address));
      if (same) return held;
    }
    const fresh: string[] = [];
    try {
      if (wanted) {
        for (const { field, address } of wanted) {
          if (this.claims.holder(address.address) !== box.id) fresh.push(address.address);
          this.claims.claimStatic(box.id, address, field);
        }
      } else {
        for (const pool of pools) fresh.push(this.claims.claimNext(box.id, pool));
      }
    } catch (error) {
      // All or none: a box never keeps half its addresses (and keeps the ones it had).
      for (const address of fresh) this.claims.releaseOne(box.id, address);
      throw error;
    }
    for (const claim of held) if (!wanted?.some(({ address }) => address.address === claim.address)) this.claims.releaseOne(box.id, claim.address);
    return this.claims.of(box.id, this.pools.list());
  }

  held(box: Pick<Box, 'id'>): Claim[] {
    return this.claims.of(box.id, this.pools.list());
  }

  release(box: Pick<Box, 'id'>): string[] {
    return this.claims.release(box.id);
  }
}
