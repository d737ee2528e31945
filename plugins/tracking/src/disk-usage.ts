/**
 * Blocks and inodes of a box's own filesystem: statfs(2) of its root directory on the host
 * (the spec's root.path). For a box with a disk limit that root is its image's mount (or a
 * directory under a project quota, whose statfs the kernel answers with the project's
 * figures); otherwise it is a directory of the host's filesystem, shared with the host and
 * other boxes, and the figures are that filesystem's (`own: false` says so).
 *
 * Nothing inside the box's rootfs is followed: the root path is the host's (state dir or the
 * admin's rootfs), and a root that is itself a symlink is not read (lstat first).
 */

import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Box } from '@nsbox/core';
import { type FilesystemSpace, filesystemSpace } from '@nsbox/runtime-api';

/** The filesystem's figures (runtime-api's filesystemSpace), and whose filesystem it is. */
export interface DiskUsage extends Omit<FilesystemSpace, 'blocks' | 'blockSize'> {
  /** The box's own filesystem (a disk limit); false: the host's filesystem it shares. */
  own: boolean;
}

/** The box's root directory on the host, as its start recorded it (core keeps the spec on a running box). */
export function rootPathOf(box: Pick<Box, 'runtime'>): string | undefined {
  const path = (box.runtime?.spec as { root?: { path?: unknown } } | undefined)?.root?.path;
  return typeof path === 'string' && path.startsWith('/') ? path : undefined;
}

/**
 * Whether the root is a filesystem of its own rather than the host's it shares: an image is
 * another filesystem, a project quota answers with the project's totals; an overlay (a layered
 * box) answers with its upper's: the host's unless that has a limit. Undefined when the root
 * cannot be read. It holds while the box runs: the reader asks once per start, not per sample.
 */
export function ownFilesystem(root: string): boolean | undefined {
  try {
    if (!lstatSync(root).isDirectory()) return undefined;
    const box = filesystemSpace(root);
    const host = filesystemSpace(dirname(root));
    return box.blocks !== host.blocks || box.inodes !== host.inodes || box.blockSize !== host.blockSize;
  } catch {
    return undefined;
  }
}

/** undefined when the root cannot be read (gone meanwhile, or not a plain directory). */
export function diskUsage(root: string, own: boolean): DiskUsage | undefined {
  try {
    if (!lstatSync(root).isDirectory()) return undefined;
    const { blocks, blockSize, ...figures } = filesystemSpace(root);
    return { ...figures, own };
  } catch {
    return undefined;
  }
}
