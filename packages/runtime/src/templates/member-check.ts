/**
 * Keeps an archive inside the rootfs it is extracted into. tar follows a symlink that is
 * already on disk when it writes below it: a lower layer's `evil -> /` plus an upper layer's
 * `evil/etc/shadow` would overwrite the host's. So before tar runs, every member's parent
 * directories must be real directories: declared earlier in the same archive as directories,
 * or already directories on disk (or absent: tar creates them). Symlinks the archive itself
 * creates are safe for tar (it defers absolute and ".." ones), but a member below one is
 * refused all the same.
 *
 * Also OCI whiteouts: `.wh.name` deletes `name` from lower layers, `.wh..wh..opq` empties its
 * directory of lower layers' files. They apply before the layer is extracted, so that files
 * of the same layer are never hidden by its own whiteouts (OCI image spec, "Whiteouts").
 */

import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import { removeTreeSync } from '@nsbox/native';
import { bytePath, shown, type TarEntry } from './tar-listing.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export interface Whiteouts {
  /** Paths to delete, as the layer names them. */
  removed: string[];
  /** Directories whose existing contents to delete. */
  opaque: string[];
}

type DiskKind = 'dir' | 'other' | 'missing';

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

export function isWhiteout(path: string): boolean {
  return baseName(path).startsWith(WHITEOUT_PREFIX);
}

export function collectWhiteouts(entries: TarEntry[]): Whiteouts {
  const removed: string[] = [];
  const opaque: string[] = [];
  for (const entry of entries) {
    const name = baseName(entry.path);
    if (!name.startsWith(WHITEOUT_PREFIX)) continue;
    const parent = parentOf(entry.path);
    if (name === OPAQUE_MARKER) {
      opaque.push(parent);
      continue;
    }
    // Other ".wh..wh." names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to delete.
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) continue;
    const hidden = name.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw new NsboxError('E_INVALID_ARGUMENT', `layer has a malformed whiteout "${shown(entry.path)}"`, { details: { member: shown(entry.path) } });
    }
    removed.push(parent === '' ? hidden : `${parent}/${hidden}`);
  }
  return { removed, opaque };
}

/**
 * Deletes what the whiteouts hide. Only below real directories: a whiteout below a symlink or
 * a file has nothing of a lower layer to hide, and following the symlink would delete
 * outside the rootfs.
 */
export function applyWhiteouts(root: string, whiteouts: Whiteouts): void {
  const disk = new DiskView(root);
  for (const dir of whiteouts.opaque) {
    if (disk.kind(dir) !== 'dir') continue;
    for (const child of readdirSync(bytePath(root, dir), { encoding: 'buffer' })) {
      removeTreeSync(Buffer.concat([bytePath(root, dir), Buffer.from('/'), child]));
    }
  }
  for (const path of whiteouts.removed) {
    // removeTreeSync deletes a symlink itself, never what it points to.
    if (disk.kind(parentOf(path)) === 'dir') removeTreeSync(bytePath(root, path));
  }
}

/**
 * Checks every member against the archive so far and the disk (see the file comment).
 * Returns the paths to delete first: directories on disk that a non-directory member replaces
 * (tar refuses to replace a non-empty directory, OCI layers expect it to).
 */
export function checkMembers(root: string, entries: TarEntry[], what: string, options: { skipWhiteouts: boolean }): string[] {
  const declared = new Map<string, TarEntry['type']>();
  const disk = new DiskView(root);
  const replaced: string[] = [];
  const checkParents = (path: string, member: string) => {
    let onDisk = true;
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      const prefix = path.slice(0, slash);
      const type = declared.get(prefix);
      if (type !== undefined) {
        if (type !== 'dir') throw through(what, member, prefix, `the archive makes it a ${type}`);
        continue;
      }
      if (!onDisk) continue;
      const kind = disk.kind(prefix);
      if (kind === 'missing') onDisk = false;
      else if (kind !== 'dir') throw through(what, member, prefix, 'it is not a directory on disk');
    }
  };
  for (const entry of entries) {
    if (options.skipWhiteouts && isWhiteout(entry.path)) continue;
    if (entry.path === '') {
      if (entry.type !== 'dir') throw unsafe(what, `its root entry is a ${entry.type}`, '.');
      continue;
    }
    checkParents(entry.path, entry.path);
    if (entry.type === 'hardlink') {
      const target = entry.link ?? '';
      if (target === '') throw unsafe(what, 'a hard link points at the rootfs itself', entry.path);
      checkParents(target, entry.path);
    }
    if (entry.type !== 'dir' && !declared.has(entry.path) && disk.kind(entry.path) === 'dir') replaced.push(entry.path);
    declared.set(entry.path, entry.type);
  }
  return replaced;
}

/**
 * Deletes the device nodes an archive brought: its char and block members, and hard links
 * to them. nsbox makes a box's /dev itself; a node anywhere else in a rootfs is at best
 * useless and at worst the host's console, memory or disk. Runs after tar, on a fresh view
 * of the disk, and only below real directories (never through a symlink); returns what went.
 */
export function removeDeviceNodes(root: string, entries: TarEntry[]): string[] {
  const disk = new DiskView(root);
  const removed: string[] = [];
  for (const entry of entries) {
    if (entry.type !== 'char' && entry.type !== 'block' && entry.type !== 'hardlink') continue;
    if (entry.path === '' || disk.kind(parentOf(entry.path)) !== 'dir') continue;
    const path = bytePath(root, entry.path);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isCharacterDevice() || stat?.isBlockDevice()) {
      unlinkSync(path);
      removed.push(entry.path);
    }
  }
  return removed;
}

/**
 * What is on disk under the root, remembered: the disk does not change while members are
 * checked. A path is looked at only when its parent is a real directory, so that no lstat
 * (and no delete decided from one) ever resolves through a symlink: below a symlink or a
 * file, a path counts as missing, which is what tar will find once it replaced them.
 */
class DiskView {
  private readonly kinds = new Map<string, DiskKind>([['', 'dir']]);

  constructor(private readonly root: string) {}

  kind(path: string): DiskKind {
    let kind = this.kinds.get(path);
    if (kind === undefined) {
      if (this.kind(parentOf(path)) !== 'dir') kind = 'missing';
      else {
        const stat = lstatSync(bytePath(this.root, path), { throwIfNoEntry: false });
        kind = !stat ? 'missing' : stat.isDirectory() ? 'dir' : 'other';
      }
      this.kinds.set(path, kind);
    }
    return kind;
  }
}

function through(what: string, member: string, prefix: string, why: string): NsboxError {
  return unsafe(what, `member "${shown(member)}" would be written through "${shown(prefix)}", and ${why}`, member, prefix);
}

function unsafe(what: string, reason: string, member: string, through?: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `refusing to extract ${what}: ${reason}`, {
    details: { member: shown(member), ...(through === undefined ? {} : { through: shown(through) }) },
  });
}
