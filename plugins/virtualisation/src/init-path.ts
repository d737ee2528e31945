/**
 * Where a box's init leads inside its rootfs, resolved on the host without ever following a
 * link of the box's out of it: one component at a time, `lstat` on paths already free of
 * links, each link's target read (`readlink`) and resolved again against the box's root
 * (absolute targets, `..` above the root stay inside it), as openat2(RESOLVE_IN_ROOT) would.
 */

import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** More links than Linux follows (40) in one lookup: a loop. */
const MAX_LINKS = 40;

export type InitTarget = { found: true; path: string } | { found: false; path: string; why: string };

/** The path (inside the box) `path` resolves to in `rootfs`, and whether it is a file the box can run. */
export function resolveInRoot(rootfs: string, path: string): InitTarget {
  let links = 0;
  const resolved: string[] = [];
  const pending = path.split('/').filter(Boolean);
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      resolved.pop();
      continue;
    }
    const inside = `/${[...resolved, name].join('/')}`;
    const stat = lstatSync(join(rootfs, inside), { throwIfNoEntry: false });
    if (!stat) return { found: false, path: inside, why: 'does not exist' };
    if (stat.isSymbolicLink()) {
      links += 1;
      if (links > MAX_LINKS) return { found: false, path: inside, why: 'is a loop of symbolic links' };
      const target = readlinkSync(join(rootfs, inside));
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    if (pending.length > 0 && !stat.isDirectory()) return { found: false, path: inside, why: 'is not a directory' };
    if (pending.length === 0 && !stat.isFile()) return { found: false, path: inside, why: 'is not a file' };
    if (pending.length === 0 && (stat.mode & 0o111) === 0) return { found: false, path: inside, why: 'is not executable' };
    resolved.push(name);
  }
  return { found: true, path: `/${resolved.join('/')}` };
}
