/**
 * Hands each box its own host uid and gid range, for good: a range is claimed in the
 * plugin state store with an atomic `claim` (two processes starting boxes at once never
 * get the same one), recorded against the box, found again on every later start (also
 * after nsbox restarts), and freed when the box is destroyed.
 *
 * A freed range is quarantined, so that a process the old box left behind (its uid is in
 * the range) can never signal or ptrace the box that gets the range next: it rests for a
 * cool-down (`rangeCooldownSeconds`, 10 minutes by default) and after it, ranges never used
 * go first, then the longest-rested; a range is not handed out again while any host process
 * still runs with one of its uids or gids (every /proc/PID/status is read). Files are not
 * searched for (the box's rootfs went with it; a non-idmapped bind may keep files of the
 * range, which only the range's next box could then own).
 *
 * Keys in namespace `isolation`: `slot:N` → box id (the claim), `box:ID` → the ranges,
 * `cooldown:N` → when slot N was freed and until when it rests.
 */

import { readdirSync, readFileSync } from 'node:fs';
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
const cooldownKey = (slot: number) => `cooldown:${slot}`;

interface Cooldown {
  freedAt: number;
  until: number;
  boxId: string;
}

/** Host processes with any uid or gid (real, effective, saved, filesystem) in [start, start + size). */
export function hostProcessesInRange(uid: { start: number; size: number }, gid: { start: number; size: number }): number[] {
  const inside = (ids: string | undefined, range: { start: number; size: number }) =>
    (ids ?? '')
      .trim()
      .split(/\s+/)
      .some((id) => Number(id) >= range.start && Number(id) < range.start + range.size);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${name}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (inside(/^Uid:(.*)$/m.exec(status)?.[1], uid) || inside(/^Gid:(.*)$/m.exec(status)?.[1], gid)) found.push(Number(name));
  }
  return found;
}

export interface AllocatorOptions {
  /** How long a freed range rests before it is handed out again. */
  cooldownMs?: number;
  now?: () => number;
  /** Which host processes still hold ids of a range (a seam; /proc by default). */
  processesInRange?: typeof hostProcessesInRange;
}

export const DEFAULT_COOLDOWN_MS = 600_000;

export class UidAllocator {
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private readonly processesInRange: typeof hostProcessesInRange;

  constructor(
    private readonly state: PluginStateStore,
    private readonly files: IdPoolFiles = defaultPoolFiles,
    options: AllocatorOptions = {},
  ) {
    this.cooldownMs = options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
    this.now = options.now ?? (() => Date.now());
    this.processesInRange = options.processesInRange ?? hostProcessesInRange;
  }

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
    // One read of the claims (not of every box's record): a start's cost grows with the boxes.
    const claims = this.state.list(STATE_NAMESPACE, 'slot:');
    // A process that died between the claim and the record left the claim: it is this box's.
    const claimed = claims.find((entry) => entry.value === boxId);
    let slot = claimed ? Number(claimed.key.slice('slot:'.length)) : undefined;
    let resting = 0;
    if (slot === undefined) {
      // `taken` is a hint; the claim is what decides when another process races us.
      const taken = new Set(claims.map((entry) => Number(entry.key.slice('slot:'.length))));
      const cooldowns = new Map(
        this.state.list(STATE_NAMESPACE, 'cooldown:').map((entry) => [Number(entry.key.slice('cooldown:'.length)), JSON.parse(entry.value) as Cooldown]),
      );
      const now = this.now();
      const fresh: number[] = [];
      const rested: number[] = [];
      for (let candidate = 0; candidate < pools.slots; candidate++) {
        if (taken.has(candidate)) continue;
        const cooldown = cooldowns.get(candidate);
        if (!cooldown) fresh.push(candidate);
        else if (cooldown.until <= now) rested.push(candidate);
        else resting++;
      }
      rested.sort((a, b) => (cooldowns.get(a) as Cooldown).freedAt - (cooldowns.get(b) as Cooldown).freedAt);
      for (const candidate of [...fresh, ...rested]) {
        if (cooldowns.has(candidate) && this.stillHeld(pools, candidate)) {
          resting++;
          continue;
        }
        if (this.state.claim(STATE_NAMESPACE, slotKey(candidate), boxId)) {
          slot = candidate;
          this.state.delete(STATE_NAMESPACE, cooldownKey(candidate));
          break;
        }
      }
    }
    if (slot === undefined) {
      const why = resting > 0 ? `${resting} of them freed recently and resting, or still held by host processes` : 'all in use';
      throw new NsboxError('E_RUNTIME', `no free uid range for box ${boxId}: ${pools.slots} ranges in the pool, ${why} (${pools.source})`, {
        details: { slots: pools.slots, resting, pool: pools.source },
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

  /** Whether a host process still holds an id of a freed slot's range. */
  private stillHeld(pools: ReturnType<UidAllocator['pools']>, slot: number): boolean {
    const uid = slotStart(pools.uid, slot);
    const gid = slotStart(pools.gid, slot);
    if (uid === undefined || gid === undefined) return false;
    return this.processesInRange({ start: uid, size: RANGE_SIZE }, { start: gid, size: RANGE_SIZE }).length > 0;
  }

  /** Frees the box's ranges into their cool-down; a box that has none is fine. */
  free(boxId: string): BoxIdRanges | undefined {
    const ranges = this.find(boxId);
    const freedAt = this.now();
    // A box's one claim is its record's slot (claimed before it was recorded); without a
    // record (a process died between the two), its claim is looked for among all.
    const claims = ranges
      ? [{ key: slotKey(ranges.slot), value: this.state.get(STATE_NAMESPACE, slotKey(ranges.slot)) }]
      : this.state.list(STATE_NAMESPACE, 'slot:');
    for (const entry of claims) {
      if (entry.value !== boxId) continue;
      // The rest is recorded before the claim goes: no allocator ever sees the slot free and not resting.
      const cooldown: Cooldown = { freedAt, until: freedAt + this.cooldownMs, boxId };
      this.state.set(STATE_NAMESPACE, cooldownKey(Number(entry.key.slice('slot:'.length))), JSON.stringify(cooldown));
      this.state.delete(STATE_NAMESPACE, entry.key);
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
