/**
 * Whole-tree operations on rootfs directories. A rootfs may still have proc or sysfs mounted
 * in it (debootstrap killed midway), so removal unmounts first and never crosses a mount (the
 * native removeTree): a recursive delete that walked into a bind-mounted /dev would wipe the host's.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isProcessAlive, NsboxError } from '@nsbox/core';
import { removeTree as removeWithinMount } from '@nsbox/native';
import { runCommand } from './run-command.js';

/** True when `path` is `root` or below it (both already resolved). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return [];
  }
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    if (isInside(real, point)) points.push(point);
  }
  return points.sort((a, b) => b.length - a.length);
}

/**
 * Removes a tree nsbox built: lazily unmounts whatever its own tools left mounted below it
 * (debootstrap's /proc), then deletes it without crossing a mount or following a symlink; a
 * mount that would not go makes it fail naming that mount. A mount on `dir` itself is the
 * caller's (a box's own filesystem image): it stays, emptied.
 */
export async function removeTree(dir: string): Promise<void> {
  if (!isSymlink(dir) && existsSync(dir)) {
    const self = realpathSync(dir);
    for (const point of mountsUnder(dir)) if (point !== self) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  }
  await removeWithinMount(dir);
}

function isSymlink(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
}

/** Copies the contents of `source` into the existing directory `target`, keeping owners, modes, links, xattrs; shares extents where the filesystem can. */
export async function copyTree(source: string, target: string, signal?: AbortSignal): Promise<void> {
  await runCommand('cp', ['-a', '--reflink=auto', '--one-file-system', '--', `${source}/.`, target], { what: `copying ${source} to ${target}`, signal });
}

/**
 * Makes `targetDir` an empty directory to fill. A non-empty one is refused, and callers must
 * not remove it on that failure: it holds someone else's files.
 */
export function prepareTarget(targetDir: string): void {
  if (!targetDir.startsWith('/')) {
    throw new NsboxError('E_INVALID_ARGUMENT', `target directory ${targetDir} must be an absolute path`, { details: { targetDir } });
  }
  const stat = lstatSync(targetDir, { throwIfNoEntry: false });
  if (stat) {
    if (!stat.isDirectory()) throw new NsboxError('E_INVALID_ARGUMENT', `target ${targetDir} exists and is not a directory`, { details: { targetDir } });
    // A freshly made ext4 (a box's own filesystem image) holds an empty lost+found: still empty for us.
    const entries = readdirSync(targetDir).filter((name) => !(name === 'lost+found' && readdirSync(join(targetDir, name)).length === 0));
    if (entries.length > 0) {
      throw new NsboxError('E_INVALID_ARGUMENT', `target directory ${targetDir} is not empty`, { details: { targetDir } });
    }
  } else {
    mkdirSync(dirname(resolve(targetDir)), { recursive: true });
    mkdirSync(targetDir);
  }
  // A rootfs's / is 0755 whatever the umask; an archive's "./" entry may change it.
  chmodSync(targetDir, 0o755);
}

/** A private work directory in the cache: <cacheDir>/.<kind>-<pid>-<random>, removable when its process is gone. */
export function workDirName(kind: string): string {
  return `.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Removes work directories left by processes that died (killed midway, host crash). */
export async function removeStaleWork(cacheDir: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^\.[a-z0-9-]+?-(\d+)-[a-z0-9]+$/.exec(name);
    if (!match || isProcessAlive(Number(match[1]))) continue;
    await removeTree(join(cacheDir, name));
  }
}
