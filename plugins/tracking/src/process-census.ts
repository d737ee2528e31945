/**
 * The aggregate no cgroup file gives: processes, threads and open files of every process in
 * the box's cgroup (and below it). Read from the host's /proc by pid: a directory listing of
 * /proc/PID/task and /proc/PID/fd — the fd entries are symlinks that are counted, never
 * followed, so nothing inside the box's rootfs is touched.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { BoxCgroup } from '@nsbox/runtime-api';
import type { ProcessCensus } from './sample.js';

function entries(path: string): number | undefined {
  try {
    return readdirSync(path).length;
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/**
 * The box's processes from one hierarchy, not the union over all of them (the driver's
 * pids(), which a kill needs): the launcher puts every process of the box in each of its
 * hierarchies, so the cgroup2 directory (or the v1 pids one) holds them all. A listing and
 * one cgroup.procs per level instead of a dozen hierarchies walked with a stat per entry.
 */
export function boxPids(cgroup: BoxCgroup): number[] {
  const root = cgroup.unifiedDir ?? cgroup.v1Dirs['pids'] ?? Object.values(cgroup.v1Dirs)[0];
  const pids: number[] = [];
  const walk = (dir: string) => {
    let children: string[] = [];
    try {
      for (const line of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')) if (line !== '') pids.push(Number(line));
      // cgroupfs gives a directory 2 links plus one per child cgroup: a box without cgroups
      // of its own (most) is not listed, its two dozen control files left alone.
      if (statSync(dir).nlink > 2) {
        children = readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name);
      }
    } catch {
      return; // the cgroup went away meanwhile: it holds no one
    }
    // A box may make cgroups of its own below its root (nested systemd, a cgroup namespace).
    for (const child of children) walk(`${dir}/${child}`);
  };
  if (root !== undefined) walk(root);
  return pids;
}

export function processCensus(pids: readonly number[]): ProcessCensus {
  const census: ProcessCensus = { processes: 0, threads: 0, openFiles: 0 };
  for (const pid of pids) {
    const threads = entries(`/proc/${pid}/task`);
    if (threads === undefined) continue;
    census.processes += 1;
    census.threads += threads;
    // Threads share their process's table: one listing per process.
    census.openFiles += entries(`/proc/${pid}/fd`) ?? 0;
  }
  return census;
}
