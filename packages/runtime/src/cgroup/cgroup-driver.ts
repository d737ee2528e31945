/** The contract every cgroup backend (v1, v2, hybrid) fulfils; callers never see which one. */

export type { BoxCgroup, CgroupDriver, KillOptions } from '@nsbox/runtime-api';

export const DEFAULT_TIMEOUT_MS = 5000;
/** Freezing waits for every task to reach the freezer; a box that cannot within this is stuck. */
export const FREEZE_TIMEOUT_MS = 5000;
