/**
 * An IO burst allowance (no kernel has one: io.max and blk-throttle know only a steady rate).
 * A token bucket over the box's IO counters, kept by a host service of the resident agent as
 * the CPU bias is: each direction's bucket fills at the sustained rate (`readBps`/`writeBps`)
 * and loses the bytes the box moved (the cgroup's io.stat / blkio service bytes), holding at
 * most `bucket` bytes. While it holds some, sharing declares the throttle at `peak` × the rate;
 * once it runs dry, at the rate itself, until it has saved `minimum` bytes again. So an idle
 * box may move `bucket` bytes fast, then settles at its rate. The throttles go through the
 * runtime's arbitration as ceilings: a stricter cap of limits' holds, burst or not. The
 * overshoot after the bucket runs dry is at most one tick at the peak rate.
 *
 * Boxes never depend on the service: without it a box keeps the throttle last declared.
 */

import type { IoThrottle } from '@nsbox/runtime-api';
import type { IoBurst } from './config-schema.js';
import { type Level, step } from './token-bucket.js';

export type Direction = 'read' | 'write';

export interface IoLevel extends Level {
  /** Bytes in the bucket. */
  tokens: number;
  /** The cgroup's byte counter for the disk at the last look; undefined before the first. */
  bytes?: number;
  /** When the last look was (ms, the controller's clock). */
  at?: number;
}

/** A box's IO buckets: the disk they count, and a level per direction that has a rate. */
export interface IoBurstState {
  device: string;
  read?: IoLevel;
  write?: IoLevel;
}

const RATE_FIELD = { read: 'readBps', write: 'writeBps' } as const;

function directions(burst: IoBurst): Direction[] {
  return (['read', 'write'] as const).filter((direction) => burst[RATE_FIELD[direction]] !== undefined);
}

function shape(burst: IoBurst): { size: number; minimum: number } {
  return { size: burst.bucket, minimum: burst.minimum ?? burst.bucket / 2 };
}

/** A box starts with full buckets (it was idle until now). */
export function freshIoBurst(burst: IoBurst, device: string): IoBurstState {
  const state: IoBurstState = { device };
  for (const direction of directions(burst)) state[direction] = { tokens: burst.bucket, drained: false };
  return state;
}

/** The buckets after the box moved `moved` bytes in total on the disk by `now` (ms). */
export function advanceIo(burst: IoBurst, state: IoBurstState, moved: Record<Direction, number>, now: number): IoBurstState {
  const next: IoBurstState = { device: state.device };
  for (const direction of directions(burst)) {
    const level = state[direction] ?? { tokens: burst.bucket, drained: false };
    const bytes = moved[direction];
    if (level.bytes === undefined || level.at === undefined || bytes < level.bytes) {
      next[direction] = { ...level, bytes, at: now }; // a first look, or a new cgroup: counting starts here
      continue;
    }
    const gained = ((burst[RATE_FIELD[direction]] as number) * Math.max(0, now - level.at)) / 1000;
    next[direction] = { ...step(level, shape(burst), gained, bytes - level.bytes), bytes, at: now };
  }
  return next;
}

/** The throttle the buckets give: the peak while a bucket holds bytes, the sustained rate once drained. */
export function ioThrottle(burst: IoBurst, state: IoBurstState): IoThrottle {
  const throttle: IoThrottle = { device: state.device };
  for (const direction of directions(burst)) {
    const rate = burst[RATE_FIELD[direction]] as number;
    throttle[RATE_FIELD[direction]] = Math.round(state[direction]?.drained ? rate : rate * burst.peak);
  }
  return throttle;
}

/** Whether the throttle of two states differs (the controller declares only then). */
export function sameThrottle(burst: IoBurst, a: IoBurstState, b: IoBurstState): boolean {
  return directions(burst).every((direction) => a[direction]?.drained === b[direction]?.drained) && a.device === b.device;
}
