/**
 * The aggregate no cgroup file gives: processes, threads and open files of every process in
 * the box's cgroup (and below it). Read from the host's /proc by pid: a directory listing of
 * /proc/PID/task and /proc/PID/fd — the fd entries are symlinks that are counted, never
 * followed, so nothing inside the box's rootfs is touched.
 */

import { readdirSync } from 'node:fs';
import type { ProcessCensus } from './sample.js';

function entries(path: string): number | undefined {
  try {
    return readdirSync(path).length;
  } catch {
    return undefined; // the process ended meanwhile
  }
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
