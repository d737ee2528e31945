/**
 * Two parts of the kernel weigh IO between cgroup2 groups: io.cost (blk-iocost) reads
 * io.weight, but only on the devices the admin enabled in the root's io.cost.qos; BFQ reads
 * io.bfq.weight on the devices it schedules. io.cost is off everywhere unless enabled, so it
 * is the one asked about: where it is on, io.weight is the weight that must hold.
 */
import { join } from 'node:path';
import { readCgroupFileIfExists } from './cgroup-fs.js';

/** Whether io.cost weighs IO on some device of the cgroup2 hierarchy mounted at `mount`. */
export function ioCostEnabled(mount: string): boolean {
  return /\benable=1\b/.test(readCgroupFileIfExists(join(mount, 'io.cost.qos')) ?? '');
}
