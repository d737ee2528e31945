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

/** The /proc and /sys views (all but the kernel log). */
export const viewFiles: readonly ProcViewFile[] = procViewFiles.filter((file) => file !== 'kmsg');

/**
 * Asks for the box's views (`procViews`) and its own kernel log at /dev/kmsg (`kernelLog`,
 * served by the same server, which keeps the log), or for none: the box then reads the
 * kernel's files and has no /dev/kmsg.
 */
export function addProcViews(spec: OciSpec, options: { procViews: boolean; kernelLog: boolean }): void {
  contributeProcViews(spec, 'virtualisation', [...(options.procViews ? viewFiles : []), ...(options.kernelLog ? (['kmsg'] as const) : [])]);
}
