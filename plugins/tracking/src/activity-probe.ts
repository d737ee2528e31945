/**
 * Whether anything of a box ran since an earlier reading: its CPU time, one small cgroup file
 * (v2 `cpu.stat`, whose first line is `usage_usec`; v1 `cpuacct.usage`), compared as text.
 * Nothing of a box changes its processes, threads, open files, OOM kills, refused forks,
 * throttling or stalls without one of its tasks running, and a task's running (its exit
 * included) is CPU time charged to the box.
 */

import { closeSync, openSync, readSync } from 'node:fs';
import type { BoxCgroup } from '@nsbox/runtime-api';

const buffer = Buffer.allocUnsafe(4096);

/** The file whose text changes when a task of the box runs; undefined when the box has none to read. */
export function activityFile(cgroup: BoxCgroup): string | undefined {
  const cpuacct = cgroup.v1Dirs['cpuacct'];
  if (cpuacct !== undefined) return `${cpuacct}/cpuacct.usage`;
  return cgroup.unifiedDir === undefined ? undefined : `${cgroup.unifiedDir}/cpu.stat`;
}

/** The file's text now; undefined when it cannot be read (the cgroup is gone). */
export function readActivity(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    // One read(2): a cgroup file's value is one record, given whole.
    return buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, null));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
