/**
 * Resource arbitration (youki's `CgroupManager::apply(&ControllerOpt)` / `stats()`): plugins
 * declare the resources they want for a box, each under its own name (an *owner*); the
 * runtime's cgroup manager merges every owner's declaration and writes each cgroup file once,
 * only when its merged value changed, on v1, v2 and hybrid hosts alike. Nobody else writes a
 * box's resource files.
 *
 * Merge rule, knob by knob (a knob is one leaf of `BoxResources`, e.g. `memory.max`,
 * `io.throttle[254:0].writeBps`, `hugetlb.2MB`):
 * - ceilings (cpu quota/period, cpu burst, cpu realtime runtime/period, memory max/high/swap, pids max,
 *   io throttles, hugetlb): the strictest owner's value wins — the lowest limit, the lowest
 *   share of a period for the cpu and realtime pairs (whose quota and period travel together);
 * - sets (cpu `cpus`, `mems`): the intersection; an empty one is an error naming the owners;
 * - choices (cpu weight, io weight, memory reservation and minimum, oomKillDisable, raw `unified` keys):
 *   one owner only; a second owner setting it is an error (E_INVALID_CONFIG) naming both;
 * - an owner's `defaults` count only for knobs no owner sets firmly (the admin's default pids
 *   limit yields to a box that says how many processes it needs), merged by the same rule;
 * - a knob nobody wants any more goes back to the kernel's "no limit" (raw `unified` keys,
 *   whose defaults nsbox cannot know, stay as last written until the cgroup goes).
 * Declarations are kept in the store's plugin state, so a later process (a CLI's `nsbox set`)
 * merges with what other owners declared; they live as long as the box's cgroup (made at
 * start, before the `configure` moment, removed at stop).
 */

import type { Box } from '@nsbox/core';
import type { BoxCgroup } from './cgroups.js';

/** A throttle of one block device ('major:minor'); a field left out is not throttled. */
export interface IoThrottle {
  device: string;
  readBps?: number;
  writeBps?: number;
  readIops?: number;
  writeIops?: number;
}

/** The resources of a box, in the kernel's units (bytes, microseconds, counts). */
export interface BoxResources {
  cpu?: {
    /** CFS bandwidth: microseconds of CPU time per `period` (150000 per 100000 = 1.5 CPUs). */
    quota?: number;
    /** The CFS period in microseconds (default 100000). */
    period?: number;
    /**
     * CFS burst: microseconds of unused quota a box may save up and spend at once (v2
     * `cpu.max.burst`, v1 `cpu.cfs_burst_us`). The kernel holds it to at most the quota: the
     * runtime writes the smaller of the two, so a burst never lifts a hard cap.
     */
    burst?: number;
    /** Relative weight under contention, 1-10000 (100 = default; v1 cpu.shares scaled as systemd does). */
    weight?: number;
    /** CPUs the box may run on ('0-1,3'). */
    cpus?: string;
    /** Memory nodes it may allocate from ('0'). */
    mems?: string;
    /** Realtime scheduling: microseconds per `realtimePeriod` (v1 with CONFIG_RT_GROUP_SCHED only). */
    realtimeRuntime?: number;
    realtimePeriod?: number;
  };
  memory?: {
    /** Hard limit in bytes. */
    max?: number;
    /** Throttle point (v2 memory.high; v1 soft limit). */
    high?: number;
    /** Swap on top of `max` (v2 memory.swap.max; v1 memsw = max + swap, which needs `max`). */
    swap?: number;
    /** What the box is guaranteed under pressure (v2 memory.low; v1 soft limit). */
    reservation?: number;
    /**
     * What the box keeps whatever the pressure, its own limit's aside (v2 memory.min: the kernel
     * OOM-kills elsewhere before it reclaims below it). cgroup v1 has nothing like it.
     */
    minimum?: number;
    /** true: tasks wait instead of being OOM-killed at the limit (v1 memory.oom_control only). */
    oomKillDisable?: boolean;
  };
  pids?: { max?: number };
  io?: {
    /**
     * Proportional IO weight, 1-10000 (100 = default): v2 io.weight (io.cost); BFQ's
     * io.bfq.weight / blkio.bfq.weight get the same number up to 1000 (the ratio holds); CFQ's
     * old v1 blkio.weight 10-1000. Needs a device whose scheduler or io.cost weighs IO.
     */
    weight?: number;
    throttle?: IoThrottle[];
  };
  /** Huge page limits in bytes by page size ('2MB', '1GB'). */
  hugetlb?: Record<string, number>;
  /** Raw cgroup2 files ('memory.oom.group' → '1'), written on the unified hierarchy as given. */
  unified?: Record<string, string>;
}

/** Who set a knob: one owner, or for a set (cpus, mems) every owner whose set was intersected. */
export interface KnobOwnership {
  owners: string[];
  /** The value came from `defaults`: no owner set the knob firmly. */
  defaulted?: boolean;
}

/** What every owner asked for, merged, and who won each knob. */
export interface DesiredResources {
  resources: BoxResources;
  /**
   * Knob → who set the value that holds. Knobs are named by their `BoxResources` path
   * ('memory.max', 'pids.max', 'io.throttle[254:0].writeBps', 'hugetlb.2MB', 'unified.memory.oom.group'),
   * except the two pairs: 'cpu.quota' (quota with its period) and 'cpu.realtime' (runtime with its period).
   */
  owners: Record<string, KnobOwnership>;
  /** Each owner's own declaration, as stored. */
  declarations: Record<string, ResourceDeclaration>;
}

export interface ResourceDeclaration {
  resources: BoxResources;
  defaults?: BoxResources;
}

export interface ApplyOptions {
  /** Values that hold only where no owner sets the knob (the host's default pids limit). */
  defaults?: BoxResources;
}

/** One cgroup file written by an apply. */
export interface KnobWrite {
  controller: string;
  file: string;
  value: string;
  /** The knobs this file carries ('memory.max', 'memory.swap' for v1's memsw). */
  knobs: string[];
}

export interface ApplyResult {
  /** Files written, in order; unchanged ones are not written. */
  written: KnobWrite[];
}

/** A knob this host cannot enforce, and why (checked before anything is written). */
export interface ResourceProblem {
  knob: string;
  reason: string;
}

/**
 * Pressure stall information of one resource (cgroup2's `cpu.pressure` & co., also on a hybrid
 * host's unified hierarchy): `some` — at least one task waited; `full` — every task stalled.
 * Averages are percentages of wall time over 10, 60 and 300 s; totals are microseconds.
 */
export interface PressureStats {
  some: { avg10: number; avg60: number; avg300: number; totalUsec: number };
  full?: { avg10: number; avg60: number; avg300: number; totalUsec: number };
}

/** Usage read from the box's cgroup; a figure the host cannot give is left out. */
export interface ResourceStats {
  cpu: {
    usageUsec?: number;
    userUsec?: number;
    systemUsec?: number;
    throttledPeriods?: number;
    throttledUsec?: number;
    /** CFS bursts (v2 `cpu.max.burst`): how many periods borrowed, and the time borrowed. */
    bursts?: number;
    burstUsec?: number;
  };
  memory: {
    usage?: number;
    peak?: number;
    swapUsage?: number;
    /** Anonymous memory (v2 `anon`, v1 `total_rss`). */
    anon?: number;
    /** Page cache (v2 `file`, v1 `total_cache`). */
    file?: number;
    /** Kernel memory: slabs, stacks, page tables (v2 `kernel`, v1 `memory.kmem.usage_in_bytes`). */
    kernel?: number;
    /** Socket buffers (v2 `sock`, v1 `memory.kmem.tcp.usage_in_bytes`). */
    sock?: number;
  };
  pids: { current?: number; peak?: number };
  io: { device: string; readBytes: number; writeBytes: number; reads: number; writes: number }[];
  /** PSI where the kernel keeps it for the box's cgroup (cgroup2 only: never on a pure v1 host). */
  pressure?: { cpu?: PressureStats; memory?: PressureStats; io?: PressureStats };
}

/** Event counters since the box's cgroup was made (each start makes a new one). */
export interface ResourceEvents {
  /** Processes the OOM killer killed in the box. */
  oomKills: number;
  /** Forks refused at pids.max. */
  pidsMax: number;
}

export type ResourceBox = Pick<Box, 'id'>;

/**
 * The runtime's cgroup manager: the only writer of a box's resource files. Owners are
 * plugin names ('limits') or the faces' own ('oci' for nsbox-runc's `linux.resources`).
 */
export interface CgroupManager {
  /**
   * Declares what `owner` wants for the box (replacing its last declaration), merges it with
   * every other owner's and writes the files whose merged value changed. The box's cgroup must
   * exist (from the `configure` moment on). A write the kernel refuses puts the owner's last
   * declaration back and throws, naming the knob and the file.
   */
  apply(box: ResourceBox, owner: string, resources: BoxResources, options?: ApplyOptions): ApplyResult;
  /** Forgets the owner's declaration; knobs only it set go back to what the others want, or no limit. */
  withdraw(box: ResourceBox, owner: string): ApplyResult;
  /** Every declaration merged, with the owner of each knob. Throws on a conflict. */
  desired(box: ResourceBox): DesiredResources;
  /** What the kernel enforces now, read back (undefined: no cgroup). Knobs without a limit are left out. */
  effective(box: ResourceBox): BoxResources | undefined;
  stats(box: ResourceBox): ResourceStats | undefined;
  events(box: ResourceBox): ResourceEvents | undefined;
  /**
   * stats() and events() with the box's cgroup, from one lookup of it (a sampler reads every
   * running box each round); undefined: no cgroup. `known`: the cgroup an earlier usage() gave
   * for the box, taken again if its directory is still there (one stat, not one per hierarchy).
   */
  usage(box: ResourceBox, known?: BoxCgroup): { cgroup: BoxCgroup; stats: ResourceStats; events: ResourceEvents } | undefined;
  /** What this host cannot enforce of `resources`, with the kernel's reason (no box needed). */
  check(resources: BoxResources): ResourceProblem[];
}
