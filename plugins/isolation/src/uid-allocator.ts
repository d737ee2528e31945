/**
 * Hands each box its own host uid and gid range, for good: a range is claimed in the
 * plugin state store with an atomic `claim` (two processes starting boxes at once never
 * get the same one), recorded against the box, found again on every later start (also
 * after nsbox restarts), and freed when the box is destroyed.
 *
 * Keys in namespace `isolation`: `slot:N` → box id (the claim), `box:ID` → the ranges.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { type IdRange, poolFrom, RANGE_SIZE, readSubIds, slotCount, slotStart } from './id-pool.js';

export const STATE_NAMESPACE = 'isolation';

export interface BoxIdRanges {
  slot: number;
  uid: { hostID: number; size: number };
  gid: { hostID: number; size: number };
}

export interface IdPoolFiles {
  subuid: string;
  subgid: string;
}

export const defaultPoolFiles: IdPoolFiles = { subuid: '/etc/subuid', subgid: '/etc/subgid' };

const slotKey = (slot: number) => `slot:${slot}`;
const boxKey = (boxId: string) => `box:${boxId}`;

export class UidAllocator {
  constructor(
    private readonly state: PluginStateStore,
    private readonly files: IdPoolFiles = defaultPoolFiles,
  ) {}

  /** The pools as the host's files define them now (read on every allocation: they may change). */
  pools(): { uid: IdRange[]; gid: IdRange[]; slots: number; source: string } {
    const uid = poolFrom(readSubIds(this.files.subuid));
    const gid = poolFrom(readSubIds(this.files.subgid));
    return {
      uid: uid.ranges,
      gid: gid.ranges,
      slots: Math.min(slotCount(uid.ranges), slotCount(gid.ranges)),
      source: `uid: ${uid.source}, gid: ${gid.source}`,
    };
  }

  /** The box's ranges, if it has some. */
  find(boxId: string): BoxIdRanges | undefined {
    const recorded = this.state.get(STATE_NAMESPACE, boxKey(boxId));
    return recorded === undefined ? undefined : (JSON.parse(recorded) as BoxIdRanges);
  }

  /** The box's ranges: the ones it had, or a free slot claimed now. */
  allocate(boxId: string): BoxIdRanges {
    const existing = this.find(boxId);
    if (existing) return existing;
    const pools = this.pools();
    // A process that died between the claim and the record left the claim: it is this box's.
    const claimed = this.state.list(STATE_NAMESPACE).find((entry) => entry.key.startsWith('slot:') && entry.value === boxId);
    let slot = claimed ? Number(claimed.key.slice('slot:'.length)) : undefined;
    if (slot === undefined) {
      const taken = new Set(
        this.state
          .list(STATE_NAMESPACE)
          .filter((entry) => entry.key.startsWith('slot:'))
          .map((entry) => Number(entry.key.slice('slot:'.length))),
      );
      for (let candidate = 0; candidate < pools.slots && slot === undefined; candidate++) {
        // `taken` is a hint; the claim is what decides when another process races us.
        if (!taken.has(candidate) && this.state.claim(STATE_NAMESPACE, slotKey(candidate), boxId)) slot = candidate;
      }
    }
    if (slot === undefined) {
      throw new NsboxError('E_RUNTIME', `no free uid range for box ${boxId}: all ${pools.slots} ranges of the pool are in use (${pools.source})`, {
        details: { slots: pools.slots, pool: pools.source },
      });
    }
    const uidStart = slotStart(pools.uid, slot);
    const gidStart = slotStart(pools.gid, slot);
    if (uidStart === undefined || gidStart === undefined) {
      throw new NsboxError('E_RUNTIME', `uid range slot ${slot} is outside the pool (${pools.source}): was /etc/subuid shrunk?`, { details: { slot } });
    }
    const ranges: BoxIdRanges = { slot, uid: { hostID: uidStart, size: RANGE_SIZE }, gid: { hostID: gidStart, size: RANGE_SIZE } };
    this.state.set(STATE_NAMESPACE, boxKey(boxId), JSON.stringify(ranges));
    return ranges;
  }

  /** Frees the box's ranges; a box that has none is fine. */
  free(boxId: string): BoxIdRanges | undefined {
    const ranges = this.find(boxId);
    for (const entry of this.state.list(STATE_NAMESPACE)) {
      if (entry.key.startsWith('slot:') && entry.value === boxId) this.state.delete(STATE_NAMESPACE, entry.key);
    }
    this.state.delete(STATE_NAMESPACE, boxKey(boxId));
    return ranges;
  }

  /** Every box that holds a range. */
  list(): { boxId: string; ranges: BoxIdRanges }[] {
    return this.state
      .list(STATE_NAMESPACE)
      .filter((entry) => entry.key.startsWith('box:'))
      .map((entry) => ({ boxId: entry.key.slice('box:'.length), ranges: JSON.parse(entry.value) as BoxIdRanges }));
  }
}
