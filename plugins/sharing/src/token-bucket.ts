/**
 * The token bucket of Linux-VServer's scheduler, as the bias controller keeps it: the bucket
 * gains `fillRate` ms of CPU time per `interval` ms, loses the CPU time the box used, and holds
 * between 0 and its size (`bucket`, or one fill without one). The fill rate is also the box's
 * quota, so the kernel holds it there once its burst is spent: a period in which the kernel
 * throttled the box empties the bucket. A box that drained its bucket counts as drained
 * until it holds `minimum` ms again. The weight it gets: × (1 + bias) with a
 * full bucket, ÷ (1 + bias) drained, the base weight in between. Pure: the controller feeds it
 * the cgroup's usage.
 */

import type { CpuShare } from './config-schema.js';
import { DEFAULT_WEIGHT } from './shares.js';

export interface BucketState extends Level {
  /** The cgroup's CPU usage (µs) at the last look; undefined before the first. */
  usageUsec?: number;
  /** The periods the kernel throttled the box in, at the last look. */
  throttledPeriods?: number;
  /** When the last look was (ms, the controller's clock). */
  at?: number;
}

export function bucketSize(cpu: CpuShare): number {
  return cpu.bucket !== undefined && cpu.bucket > 0 ? cpu.bucket : (cpu.fillRate ?? 0);
}

/** A new box starts with a full bucket (it was idle until now). */
export function freshBucket(cpu: CpuShare): BucketState {
  return { tokens: bucketSize(cpu), drained: false };
}

/** A bucket's level: what it holds, and whether it ran dry and has not yet saved up its minimum again. */
export interface Level {
  tokens: number;
  drained: boolean;
}

/**
 * One step of any bucket (CPU time here, IO bytes in io-burst.ts): `gained` in, `used` out, held
 * between 0 and `size`; `emptied` (the kernel held the box back) empties it. A bucket that ran
 * dry stays drained until it holds `minimum` again.
 */
export function step(level: Level, shape: { size: number; minimum: number }, gained: number, used: number, emptied = false): Level {
  const tokens = emptied ? 0 : Math.min(shape.size, Math.max(0, level.tokens + gained - used));
  return { tokens, drained: tokens <= 0 || (level.drained && tokens < shape.minimum) };
}

/** The bucket after the box used `usage.usageUsec` in total by `now` (ms), throttled in `usage.throttledPeriods` periods in total. */
export function advance(cpu: CpuShare, state: BucketState, usage: { usageUsec: number; throttledPeriods?: number }, now: number): BucketState {
  const seen = { usageUsec: usage.usageUsec, at: now, ...(usage.throttledPeriods !== undefined ? { throttledPeriods: usage.throttledPeriods } : {}) };
  if (state.usageUsec === undefined || state.at === undefined || usage.usageUsec < state.usageUsec) return { ...state, ...seen };
  const elapsed = Math.max(0, now - state.at);
  const gained = ((cpu.fillRate ?? 0) * elapsed) / cpu.interval;
  const used = (usage.usageUsec - state.usageUsec) / 1000;
  const throttled = usage.throttledPeriods !== undefined && state.throttledPeriods !== undefined && usage.throttledPeriods > state.throttledPeriods;
  return { ...step(state, { size: bucketSize(cpu), minimum: cpu.minimum ?? 0 }, gained, used, throttled), ...seen };
}

/** The weight a bucket in this state gives the box. */
export function biasedWeight(cpu: CpuShare, state: BucketState): number {
  const base = cpu.weight ?? DEFAULT_WEIGHT;
  if (cpu.bias <= 0) return base;
  const factor = 1 + cpu.bias;
  const full = state.tokens >= bucketSize(cpu);
  const weight = state.drained ? base / factor : full ? base * factor : base;
  return Math.min(10_000, Math.max(1, Math.round(weight)));
}
