/**
 * Whether other host users can reach a path a box writes into (its rootfs, a bind source).
 * Through an idmapped mount what the box's root creates is owned by host root on disk, and
 * through a plain bind by the box's host uid: a setuid file planted there raises whoever on
 * the host runs it. So, as LXC asks of a rootfs ("not reachable by unprivileged users"):
 *
 *   walking from / down to the path's parent, every directory is owned by root and not
 *   writable by group or others (a root-owned sticky directory such as /tmp is fine: others
 *   cannot rename what root put there), until one that neither group nor others may search
 *   (mode & 0o011 == 0) — that one closes the path off.
 *
 * The path itself does not count: it is the box's own mount root, which the box's root may
 * chmod. Symlinks in the admin's path are resolved first (this is host-side configuration,
 * never a path inside a box's rootfs).
 */

import { lstatSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';

/** Why other host users can reach `path`; undefined when a directory above it shuts them out. */
export function reachableByOthers(path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined; // a missing path is reported by whoever needs it to exist
  }
  const ancestors: string[] = [];
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  if (real === '/') return "it is '/' itself";
  for (const dir of ancestors) {
    const stat = lstatSync(dir);
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    if (stat.uid !== 0) return `'${dir}' is owned by uid ${stat.uid}, not root`;
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) return `'${dir}' (mode ${mode}) is writable by group or others`;
    if ((stat.mode & 0o011) === 0) return undefined;
  }
  return 'no directory above it is closed to them (a root-owned one of mode 0700, say)';
}
