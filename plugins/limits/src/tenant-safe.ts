/**
 * What a tenant may set in the `limits` section: caps on its own box, which nsboxd's tenant
 * quotas bound in total (boxes, memory, disk). rlimits only within a cap the admin grants
 * (`limits.rlimits.nofile <= 4096`), an IO throttle only by device number (a path would be a
 * host path), and the pool only when granted (it places the box's disk on the host).
 */

import type { TenantSafeFields } from '@nsbox/core';
import type { RlimitPair } from './rlimits.js';

const deviceNumber = (value: unknown) =>
  typeof value === 'string' && /^\d+:\d+$/.test(value) ? undefined : "a tenant names a device by number ('254:0'), not by host path";

/** An rlimit pair as one number for a cap: its higher side, unlimited above any cap. */
const rlimitHighest = (value: unknown) => {
  const pair = value as RlimitPair;
  return Math.max(...[pair.soft, pair.hard].map((side) => (side === 'unlimited' ? Number.POSITIVE_INFINITY : side)));
};

export const limitsTenantSafe: TenantSafeFields = {
  cpus: true,
  cpuWeight: true,
  cpuset: true,
  cpusetMems: true,
  memory: true,
  memoryHigh: true,
  swap: true,
  pids: true,
  disk: true,
  inodes: true,
  'io[].device': { check: deviceNumber },
  'io[].readBps': true,
  'io[].writeBps': true,
  'io[].readIops': true,
  'io[].writeIops': true,
  'rlimits.*': { capped: rlimitHighest },
};
