/**
 * Blocks and inodes of the filesystem at a path, as `df` counts them: used is total minus
 * free, available what an unprivileged writer may still use. The limits plugin reports a
 * box's disk with it, and tracking samples it. Inodes are null where the filesystem keeps no
 * count (files 0: btrfs, some FUSE filesystems).
 */

import { statfsSync } from 'node:fs';

export interface FilesystemSpace {
  /** Bytes the filesystem offers (df's Size). */
  sizeBytes: number;
  usedBytes: number;
  /** Bytes an unprivileged writer may still use (df's Avail). */
  freeBytes: number;
  inodes: number | null;
  inodesUsed: number | null;
  inodesFree: number | null;
  /** statfs's own figures, for comparing two filesystems. */
  blockSize: number;
  blocks: number;
}

export function filesystemSpace(path: string): FilesystemSpace {
  const fs = statfsSync(path);
  const inodes = fs.files > 0 ? fs.files : null;
  return {
    sizeBytes: fs.blocks * fs.bsize,
    usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
    freeBytes: fs.bavail * fs.bsize,
    inodes,
    inodesUsed: inodes === null ? null : fs.files - fs.ffree,
    inodesFree: inodes === null ? null : fs.ffree,
    blockSize: fs.bsize,
    blocks: fs.blocks,
  };
}
