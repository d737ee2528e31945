/**
 * What a box's upper layer would hide of a new template version: every path the box changed
 * (a file, a link, a whiteout of a deletion) where the new version differs from the one the box
 * was made on. Read on the host without following a link: entries are lstat'ed, only real
 * directories are descended into, and file contents are compared only between the two
 * template layers (which nsbox made), never read from the box's upper.
 */

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

function entry(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Whether `rel` is the same in both layers: both missing, or the same kind, owner, mode and content. */
function same(oldLower: string, newLower: string, rel: string): boolean {
  const a = entry(join(oldLower, rel));
  const b = entry(join(newLower, rel));
  if (!a || !b) return !a && !b;
  if ((a.mode & 0o170000) !== (b.mode & 0o170000) || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.isDirectory()) return true;
  if (a.isSymbolicLink()) return readlinkSync(join(oldLower, rel)) === readlinkSync(join(newLower, rel));
  if (a.isFile()) return a.size === b.size && digest(join(oldLower, rel)) === digest(join(newLower, rel));
  return a.rdev === b.rdev;
}

/** Paths (relative, '/'-joined) the upper holds where the two layers differ, sorted. */
export function rebaseConflicts(upper: string, oldLower: string, newLower: string): string[] {
  const conflicts: string[] = [];
  const walk = (rel: string) => {
    for (const dirent of readdirSync(join(upper, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${dirent.name}` : dirent.name;
      // A directory the box only added files to is not a change of its own; what is in it is looked at.
      if (dirent.isDirectory()) {
        if (!same(oldLower, newLower, path) && !entry(join(oldLower, path))?.isDirectory()) conflicts.push(path);
        walk(path);
      } else if (!same(oldLower, newLower, path)) conflicts.push(path);
    }
  };
  walk('');
  return conflicts.sort();
}
