/**
 * `nsbox dedupe` (Linux-VServer's unification, beyond vhashify): identical files in the upper
 * layers of stopped layered boxes become one inode. The host's state filesystem is ext4 (no
 * reflink, no FIDEDUPERANGE), so blocks are shared the overlay way instead of by the
 * filesystem: the file leaves the box's upper and comes back as a read-only lower layer of the
 * box's own (`<box dir>/merged`), whose files are hard links into the merged store
 * (`<layers>/.merged/<metadata>.<sha256>`). Reads share the inode (its blocks and its page
 * cache); a write copies the file up into the box's upper again, so no box ever changes
 * another's copy. Linux-VServer's hard links between guests needed a kernel patch for that.
 *
 * Safe against concurrent writes: only stopped boxes, each under its layer lock (a start
 * meanwhile fails E_BUSY, and a box whose overlay is mounted is left alone), one dedupe at a
 * time (the store's lock). What could change what the box sees is never merged: files with
 * extended attributes (capabilities, overlay metadata), set-id files, hard-linked files, and
 * anything below a directory overlayfs made opaque or redirected (a lower cannot show through
 * it). Files merge only when their bytes, mode, owner (as the box sees it: a user-namespaced
 * box's ids less its base) and mtime (to the microsecond) are the same. The box's record names
 * its merged layer before a file leaves its upper: after a crash the upper's copy still wins.
 *
 * Host-side walk: lstat on every entry, directories entered only when lstat says so, never a
 * symlink followed (the boxes are stopped and locked, so nothing swaps a directory meanwhile).
 */

import { createHash } from 'node:crypto';
import {
  type BigIntStats,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { native } from '@nsbox/native';

/** overlayfs' attributes that change what a lower shows below a directory of the upper. */
const HIDING = ['trusted.overlay.opaque', 'trusted.overlay.redirect', 'user.overlay.opaque', 'user.overlay.redirect'];

/** One box as dedupe sees it: its upper, and the ids its root has on the host (0 without a user namespace). */
export interface DedupeBox {
  id: string;
  name: string;
  upper: string;
  mergedDir: string;
  base: { uid: number; gid: number };
}

interface Candidate {
  box: DedupeBox;
  rel: string;
  stat: BigIntStats;
  /** size, mode, box-side owner and mtime: files merge only within one. */
  meta: string;
  sha?: string;
}

/** Whether a box can be deduplicated, or why not. */
export type Eligibility = { box: DedupeBox } | { skipped: string };

function metaOf(stat: BigIntStats, uid: number, gid: number): string {
  return `${stat.size}-${(Number(stat.mode) & 0o7777).toString(8)}-${uid}-${gid}-${stat.mtimeNs / 1000n}`;
}

function sha256(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** The files of an upper that may merge: regular, single-linked, no xattrs, not set-id, at least `minBytes`, not below a hiding directory. */
export function candidates(box: DedupeBox, minBytes: number): Candidate[] {
  const found: Candidate[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    const dir = rel === '' ? box.upper : join(box.upper, rel);
    if (
      native()
        .listXattrs(dir)
        .some((name) => HIDING.includes(name))
    )
      continue;
    for (const name of readdirSync(dir)) {
      const sub = rel === '' ? name : `${rel}/${name}`;
      const path = join(dir, name);
      const stat = lstatSync(path, { bigint: true });
      if (stat.isDirectory()) {
        stack.push(sub);
        continue;
      }
      if (!stat.isFile() || stat.nlink !== 1n || stat.size < BigInt(minBytes) || (stat.mode & 0o6000n) !== 0n) continue;
      const uid = Number(stat.uid) - box.base.uid;
      const gid = Number(stat.gid) - box.base.gid;
      if (uid < 0 || gid < 0 || native().listXattrs(path).length > 0) continue;
      found.push({ box, rel: sub, stat, meta: metaOf(stat, uid, gid) });
    }
  }
  return found;
}

function allocated(stat: BigIntStats): number {
  return Number(stat.blocks) * 512;
}

/** The store's files by metadata ('<meta>.<sha>' → path). */
function storeEntries(storeDir: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const name of existsSync(storeDir) ? readdirSync(storeDir) : []) if (/^[\d-]+\.[0-9a-f]{64}$/.test(name)) entries.set(name, join(storeDir, name));
  return entries;
}

/** Store files no box links any more (their boxes were destroyed, or their files written). */
export function collectStore(storeDir: string): void {
  for (const path of storeEntries(storeDir).values()) if (lstatSync(path).nlink === 1) rmSync(path, { force: true });
}

/** The directories leading to `rel` in the box's merged layer, as its upper has them (mode, box-side owner). */
function mergedParents(box: DedupeBox, rel: string): void {
  const parts = rel.split('/').slice(0, -1);
  for (let depth = 1; depth <= parts.length; depth += 1) {
    const sub = parts.slice(0, depth).join('/');
    const target = join(box.mergedDir, sub);
    if (existsSync(target)) continue;
    const source = lstatSync(join(box.upper, sub));
    mkdirSync(target, { mode: source.mode & 0o7777 });
    lchownSync(target, source.uid - box.base.uid, source.gid - box.base.gid);
    chmodSync(target, source.mode & 0o7777);
  }
}

/** A store file with the candidate's bytes and metadata, box-side owner: the inode itself without a user namespace, a copy with one. */
function storeFrom(candidate: Candidate, path: string): { linked: boolean } {
  const source = join(candidate.box.upper, candidate.rel);
  const temp = `${path}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  const linked = candidate.box.base.uid === 0 && candidate.box.base.gid === 0;
  if (linked) linkSync(source, temp);
  else {
    copyFileSync(source, temp, constants.COPYFILE_FICLONE);
    lchownSync(temp, Number(candidate.stat.uid) - candidate.box.base.uid, Number(candidate.stat.gid) - candidate.box.base.gid);
    chmodSync(temp, Number(candidate.stat.mode) & 0o7777);
    utimesSync(temp, Number(candidate.stat.atimeNs / 1000n) / 1e6, Number(candidate.stat.mtimeNs / 1000n) / 1e6);
  }
  renameSync(temp, path);
  return { linked };
}

export interface DedupePlan {
  groups: { key: string; members: Candidate[]; stored: string | undefined }[];
}

/** Which candidates merge: same metadata, then same bytes (sha256, only where a second file or a store entry has the metadata). */
export function plan(boxes: DedupeBox[], storeDir: string, minBytes: number): DedupePlan {
  const store = storeEntries(storeDir);
  const storedMeta = new Set([...store.keys()].map((name) => name.split('.')[0] as string));
  const byMeta = new Map<string, Candidate[]>();
  for (const box of boxes) for (const candidate of candidates(box, minBytes)) byMeta.set(candidate.meta, [...(byMeta.get(candidate.meta) ?? []), candidate]);
  const groups = new Map<string, Candidate[]>();
  for (const [meta, members] of byMeta) {
    if (members.length < 2 && !storedMeta.has(meta)) continue;
    for (const member of members) {
      member.sha = sha256(join(member.box.upper, member.rel));
      const key = `${meta}.${member.sha}`;
      groups.set(key, [...(groups.get(key) ?? []), member]);
    }
  }
  return {
    groups: [...groups]
      .map(([key, members]) => ({ key, members, stored: store.get(key) }))
      .filter((group) => group.members.length >= 2 || group.stored !== undefined),
  };
}

/** Bytes a plan frees: every member's blocks, less the one copy kept where the store has none yet. */
export function savings(groups: DedupePlan['groups']): number {
  return groups.reduce(
    (total, group) =>
      total + group.members.reduce((sum, member) => sum + allocated(member.stat), 0) - (group.stored ? 0 : allocated(group.members[0]?.stat as BigIntStats)),
    0,
  );
}

/**
 * Carries a plan out: store files made, each member linked into its box's merged layer, then
 * (after `recordMerged` named the layer in the box's record) gone from its upper if it is
 * still the file that was read. Returns the files moved per box and the bytes freed.
 */
export function apply(plan: DedupePlan, storeDir: string, recordMerged: (box: DedupeBox) => void): { moved: Map<string, number>; bytesSaved: number } {
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const linkedOut = new Map<DedupeBox, Candidate[]>();
  /** Members whose inode became the store's: their unlink from the upper frees nothing. */
  const kept = new Set<Candidate>();
  let bytesSaved = 0;
  for (const group of plan.groups) {
    const path = group.stored ?? join(storeDir, group.key);
    if (!group.stored) {
      const first = group.members[0] as Candidate;
      if (storeFrom(first, path).linked) kept.add(first);
      else bytesSaved -= allocated(lstatSync(path, { bigint: true }));
    }
    const store = lstatSync(path, { bigint: true });
    for (const member of group.members) {
      const target = join(member.box.mergedDir, member.rel);
      mergedParents(member.box, member.rel);
      const there = lstatSync(target, { bigint: true, throwIfNoEntry: false });
      if (there && there.ino !== store.ino) continue; // an earlier run's crash left another file: the upper's copy stays
      if (!there) linkSync(path, target);
      linkedOut.set(member.box, [...(linkedOut.get(member.box) ?? []), member]);
    }
  }
  const moved = new Map<string, number>();
  for (const [box, members] of linkedOut) {
    recordMerged(box);
    let count = 0;
    for (const member of members) {
      const source = join(box.upper, member.rel);
      const now = lstatSync(source, { bigint: true, throwIfNoEntry: false });
      if (!now || now.ino !== member.stat.ino || now.mtimeNs !== member.stat.mtimeNs || now.size !== member.stat.size) continue;
      unlinkSync(source);
      count += 1;
      if (!kept.has(member)) bytesSaved += allocated(member.stat);
    }
    moved.set(box.id, count);
  }
  return { moved, bytesSaved };
}
