/**
 * The box's own /proc views (issue 15): /proc/meminfo, cpuinfo, stat, loadavg, swaps,
 * diskstats and /sys/devices/system/cpu/online as the box should see them — its memory and
 * swap limits, the CPUs it may use (its cpuset, cut to ceil(quota) with a CPU quota), its own
 * load average, its own disk. /proc/uptime needs no view: the box's time namespace gives the
 * kernel's file the box's uptime already (time-namespace.ts).
 *
 * Served per box, never host-wide: the plugin only asks for the views in the spec
 * (runtime-api `contributeProcViews`); the box's shim keeps its FUSE connection and runs its
 * own `nsbox-proc-view` on it, started again when it dies (native/PROTOCOL.md §2).
 */

import type { OciSpec } from '@nsbox/core';
import { contributeProcViews, type ProcViewFile, procViewFiles } from '@nsbox/runtime-api';

export const viewFiles: readonly ProcViewFile[] = procViewFiles;

/** Asks for the box's views, or for none (`enabled` false: the box reads the kernel's files). */
export function addProcViews(spec: OciSpec, enabled: boolean): void {
  contributeProcViews(spec, 'virtualisation', enabled ? viewFiles : []);
}
