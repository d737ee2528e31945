/** Where a box's files and the plugins' files live on the host. */

import type { Box } from '@nsbox/core';

export interface BoxFilesService {
  /** The host's state directory. */
  readonly stateDir: string;
  /** `<state-dir>/boxes/<box id>`: the box's own directory (made by the runtime, removed with the box). */
  boxDir(box: Pick<Box, 'id'>): string;
}

/**
 * Facts the runtime records on a running box (`Box.runtime`), typed. Plugins read them with
 * `runtimeFacts(box)` instead of guessing keys.
 */
export interface RuntimeFacts {
  /** The box's root directory on the host, as nsbox made or was given it. */
  rootfs?: string;
  /**
   * The directory a running box has as its /, on the host: its spec's root at the start —
   * the rootfs, or what a plugin put in its place (a disk image's mount). Files nsbox writes
   * into a running box go here, never into a rootfs the box does not see.
   */
  root?: string;
  /** The rootfs was made by nsbox (from a template) and is removed with the box. */
  ownsRootfs?: boolean;
  /** The box's init, host pid namespace (with its start time, against pid reuse). */
  init?: { pid: number; startTime: string };
  shim?: { pid: number; startTime: string };
  /** The box's cgroup name under the runtime's parent. */
  cgroup?: string;
  startedAt?: number;
}

export function runtimeFacts(box: Pick<Box, 'runtime'>): RuntimeFacts {
  return box.runtime as RuntimeFacts;
}

/** Where to write into the box's files: the root it runs on, or its rootfs while it does not run. */
export function boxRoot(box: Pick<Box, 'runtime'>): string | undefined {
  const facts = runtimeFacts(box);
  return facts.root ?? facts.rootfs;
}
