/** One sample of one box: what the sampler reads, the history keeps and the faces show. */

import type { MetricSample } from '@nsbox/core';
import type { ResourceEvents, ResourceStats } from '@nsbox/runtime-api';
import type { DiskUsage } from './disk-usage.js';

/** Processes, threads and open files of the whole box (OpenVZ's numproc / numfile). */
export interface ProcessCensus {
  processes: number;
  threads: number;
  openFiles: number;
}

export interface BoxSample {
  boxId: string;
  /** The box's stored name. */
  box: string;
  tenant: string | null;
  /** The box's memory cgroup directory (v1's memory hierarchy, or cgroup2), to know its OOM victims by. */
  memoryCgroupDir?: string;
  /** Milliseconds since the epoch. */
  time: number;
  stats: ResourceStats;
  events: ResourceEvents;
  census: ProcessCensus;
  /** Blocks and inodes of the box's root filesystem; undefined when it could not be read. */
  disk?: DiskUsage;
  /** Counters other plugins contribute for the box (network's per-interface bytes...). */
  contributed: MetricSample[];
  /** The host pids of the box's processes at the sample. */
  pids: readonly number[];
  /** What tells the box's seccomp records: its filter logs, its host uids, the syscalls it answers ENOSYS... */
  seccomp?: SeccompIdentity;
  /** Seccomp denials the flight recorder attributed to the box since this agent started. */
  seccompDenials?: number;
}

export interface SeccompIdentity {
  /** Host uid ranges of the box's user namespace, [first, last]. */
  uids: readonly (readonly [number, number])[];
  /** Syscalls the filter answers with an errno of their own (not denials). */
  expected: ReadonlySet<string>;
}
