/**
 * A time namespace per box: its CLOCK_MONOTONIC and CLOCK_BOOTTIME start near zero when it
 * starts (the runtime's launcher unshares CLONE_NEWTIME before the init is cloned and writes
 * the offsets, PROTOCOL.md `timens.offset`), so /proc/uptime, `uptime`, process start times
 * and sysinfo's uptime count from the box's start, and from zero again after a restart.
 * Realtime cannot be per box on Linux: CLOCK_REALTIME stays the host's.
 */

import { readFileSync } from 'node:fs';
import type { OciSpec } from '@nsbox/core';

/** Whole seconds of the host's boottime and monotonic clocks, now (the offsets must keep both ≥ 0). */
function hostClocks(): { boottime: number; monotonic: number } {
  const uptime = Number.parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0] as string);
  const monotonic = Number(process.hrtime.bigint() / 1_000_000_000n);
  return { boottime: Math.floor(uptime), monotonic };
}

export function addTimeNamespace(spec: OciSpec): void {
  if (!spec.linux.namespaces.some((namespace) => namespace.type === 'time')) spec.linux.namespaces.push({ type: 'time' });
  const clocks = hostClocks();
  spec.linux.timeOffsets = {
    ...spec.linux.timeOffsets,
    boottime: { secs: -clocks.boottime, nanosecs: 0 },
    monotonic: { secs: -clocks.monotonic, nanosecs: 0 },
  };
}
