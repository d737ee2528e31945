/**
 * Disk space and inode limits behind one interface, with a backend per mechanism: a
 * per-box filesystem image on a loop device (any kernel), or project quotas on the
 * filesystem that holds the box's root (kernels with quota support).
 */

import type { Box } from '@nsbox/core';
import type { SpaceFigures } from './system.js';

export interface DiskRequest {
  /** Bytes of space. */
  limit: number;
  /** Inodes, when limited. */
  inodes?: number;
  /** The pool the box's storage lives in. */
  pool: string;
}

/** Everything a backend needs to know about one box, from the box alone. */
export interface BoxDiskContext {
  box: Pick<Box, 'id' | 'name'>;
  /** The box's own directory on the host (<state-dir>/boxes/<id>). */
  boxDir: string;
  /** The directory the box's root was made in (the template's copy, or the admin's rootfs). */
  seed: string;
  /** Whether nsbox made that directory (a template box) and may move its content. */
  ownsSeed: boolean;
  poolPath: string;
}

/** What a backend persists per box (PluginState), so every later process finds it. */
export type DiskRecord = ImageRecord | ProjectRecord;

export interface ImageRecord {
  backend: 'image';
  fs: 'ext4' | 'xfs';
  image: string;
  pool: string;
  limit: number;
  inodes?: number;
  /** Bytes the filesystem keeps for itself (journal, inode tables): image size = limit + overhead. */
  overhead: number;
  /** The seed's content was copied in. */
  populated: boolean;
  /**
   * Made with ext4's `quota` feature (hidden quota inodes, usage counted from the start) and
   * mounted usrquota,grpquota: the box's root sets its users' limits (quotactl in the box,
   * the virtualisation plugin); none is set from the host. Only where the kernel has quotas.
   */
  quota?: boolean;
}

export interface ProjectRecord {
  backend: 'project';
  projectId: number;
  path: string;
  mountPoint: string;
  fsType: string;
  limit: number;
  inodes?: number;
}

/** Why a change cannot be made: bad value, wrong box state (stop it first), or beyond this host. */
export interface DiskProblem {
  kind: 'invalid' | 'state' | 'unsupported';
  message: string;
}

export interface StorageBackend {
  readonly name: DiskRecord['backend'];
  /** Why this backend cannot hold this box here; undefined when it can. */
  unavailable(context: BoxDiskContext): string | undefined;
  /** The path the box's root is at once prepared (the spec's root.path). */
  rootPath(context: BoxDiskContext): string;
  /**
   * Problems with moving from `record` to `request` (undefined: no disk limit any more)
   * without touching anything; `running` says whether the box is up.
   */
  check(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest | undefined, running: boolean): DiskProblem[];
  /** Before the box starts: make or adapt its storage and bring it up. */
  prepare(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest): DiskRecord;
  /** A running box gets a new limit (check() said it can). */
  resizeLive(context: BoxDiskContext, record: DiskRecord, request: DiskRequest): DiskRecord;
  usage(context: BoxDiskContext, record: DiskRecord): SpaceFigures | undefined;
  /** The box stopped: take its storage down (unmount, detach), keeping the data. Idempotent. */
  release(context: BoxDiskContext, record: DiskRecord): void;
  /** The box no longer has a disk limit, or is destroyed: its data goes back to the seed (keep) or away. */
  remove(context: BoxDiskContext, record: DiskRecord, options: { keepData: boolean }): void;
}
