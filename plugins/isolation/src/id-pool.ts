/**
 * Where boxes' host uid and gid ranges come from: /etc/subuid and /etc/subgid, as shadow's
 * newuidmap reads them (`name:start:count`). An entry for user `nsbox` (else `root`, by
 * name or uid 0) is the pool; without one, a default pool that overlaps no entry of the
 * file, so that ranges given to users for rootless containers stay theirs.
 */

import { existsSync, readFileSync } from 'node:fs';

/** Ids per box: a whole 16-bit uid space, as every distribution's userns tooling assumes. */
export const RANGE_SIZE = 65536;
export const DEFAULT_POOL_START = 1_000_000;
/** Boxes a default pool has room for (65,536 ids each, ending below 2^31). */
export const DEFAULT_POOL_SLOTS = 4096;

export interface SubIdEntry {
  owner: string;
  start: number;
  count: number;
}

export interface IdRange {
  start: number;
  count: number;
}

/** Parses a subuid/subgid file; comments, blank and malformed lines are skipped, as shadow does. */
export function parseSubIds(text: string): SubIdEntry[] {
  const entries: SubIdEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [owner, start, count] = trimmed.split(':');
    if (!owner || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    entries.push({ owner, start: Number(start), count: Number(count) });
  }
  return entries;
}

export function readSubIds(path: string): SubIdEntry[] {
  return existsSync(path) ? parseSubIds(readFileSync(path, 'utf8')) : [];
}

const POOL_OWNERS = ['nsbox', 'root', '0'];

/** The ranges boxes take ids from, in order. */
export function poolFrom(entries: readonly SubIdEntry[]): { ranges: IdRange[]; source: string } {
  for (const owner of POOL_OWNERS) {
    const mine = entries.filter((entry) => entry.owner === owner && entry.count >= RANGE_SIZE);
    if (mine.length > 0) return { ranges: mine.map(({ start, count }) => ({ start, count })), source: `subid entries of '${owner}'` };
  }
  return { ranges: [defaultPool(entries)], source: 'default pool' };
}

/** From DEFAULT_POOL_START up, past every entry it would overlap. */
export function defaultPool(entries: readonly SubIdEntry[]): IdRange {
  const count = RANGE_SIZE * DEFAULT_POOL_SLOTS;
  let start = DEFAULT_POOL_START;
  const sorted = [...entries].sort((a, b) => a.start - b.start);
  for (let moved = true; moved; ) {
    moved = false;
    for (const entry of sorted) {
      if (entry.start < start + count && start < entry.start + entry.count) {
        start = entry.start + entry.count;
        moved = true;
      }
    }
  }
  return { start, count };
}

/** How many whole box ranges the pool holds, and the first id of slot n. */
export function slotCount(ranges: readonly IdRange[]): number {
  return ranges.reduce((total, range) => total + Math.floor(range.count / RANGE_SIZE), 0);
}

export function slotStart(ranges: readonly IdRange[], slot: number): number | undefined {
  let left = slot;
  for (const range of ranges) {
    const slots = Math.floor(range.count / RANGE_SIZE);
    if (left < slots) return range.start + left * RANGE_SIZE;
    left -= slots;
  }
  return undefined;
}
