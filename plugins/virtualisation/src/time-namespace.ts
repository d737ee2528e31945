/**
 * A time namespace per box: its CLOCK_MONOTONIC and CLOCK_BOOTTIME start near zero when it
 * starts (the runtime's launcher unshares CLONE_NEWTIME before the init is cloned and writes
 * the offsets, PROTOCOL.md `timens.offset`), so /proc/uptime, `uptime`, process start times
 * and sysinfo's uptime count from the box's start, and from zero again after a restart.
 * Realtime cannot be per box on Linux: CLOCK_REALTIME stays the host's.
 */

import { readFileSync } from 'node:fs';
import type { OciSpec } from '@nsbox/core';

/** An offset of minus `nanoseconds`, as the kernel takes it: whole seconds (negative) and 0 ≤ nanosecs < 1e9. */
function minus(nanoseconds: bigint): { secs: number; nanosecs: number } {
  const secs = -((nanoseconds + 999_999_999n) / 1_000_000_000n);
  return { secs: Number(secs), nanosecs: Number(-nanoseconds - secs * 1_000_000_000n) };
}

/**
 * The host's boottime and monotonic clocks now, in nanoseconds. Boottime from /proc/uptime
 * (10 ms steps, cut down: the box's clock may start up to 10 ms ahead, never below zero,
 * which the kernel refuses); monotonic exactly.
 */
function hostClocks(): { boottime: bigint; monotonic: bigint } {
  const [whole, hundredths = '0'] = (readFileSync('/proc/uptime', 'utf8').split(' ')[0] as string).split('.');
  const boottime = BigInt(whole as string) * 1_000_000_000n + BigInt(hundredths.padEnd(2, '0').slice(0, 2)) * 10_000_000n;
  return { boottime, monotonic: process.hrtime.bigint() };
}

export function addTimeNamespace(spec: OciSpec): void {
  if (!spec.linux.namespaces.some((namespace) => namespace.type === 'time')) spec.linux.namespaces.push({ type: 'time' });
  const clocks = hostClocks();
  spec.linux.timeOffsets = { ...spec.linux.timeOffsets, boottime: minus(clocks.boottime), monotonic: minus(clocks.monotonic) };
}
