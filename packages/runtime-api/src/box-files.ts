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
  /** The box's root directory on the host. */
  rootfs?: string;
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
