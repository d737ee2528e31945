/**
 * The power part of the `virtualisation` section: what a reboot from inside does, and how
 * often a box is restarted in a row (reboots and crashes alike) before it is left stopped.
 */

import { z } from '@nsbox/core';

export interface RestartLimit {
  /** Restarts in a row (each run shorter than `stableMs`) before the box is left stopped. */
  max: number;
  /** The delay before the second restart in a row; it doubles for each further one. The first is immediate. */
  backoffMs: number;
  /** The longest delay. */
  maxBackoffMs: number;
  /** A run at least this long ends the series: the next restart is immediate again. */
  stableMs: number;
}
export type OnReboot = 'restart' | 'stop';

export const defaultRestartLimit: RestartLimit = { max: 5, backoffMs: 1000, maxBackoffMs: 60_000, stableMs: 60_000 };

const restartLimitInput = z.strictObject({
  max: z.number().int().min(1).max(1000).optional(),
  backoffMs: z.number().int().min(0).max(3_600_000).optional(),
  maxBackoffMs: z.number().int().min(0).max(86_400_000).optional(),
  stableMs: z.number().int().min(0).max(86_400_000).optional(),
});
const onRebootSchema = z.enum(['restart', 'stop']);

/** The fields as the section declares them: optional, so a section without them stays as given. */
export const powerFields = {
  /** `reboot` inside the box: a new init (`restart`, the default), or the box stays stopped (`stop`). `halt`/`poweroff` always stop it. */
  onReboot: onRebootSchema.optional(),
  /** Backoff and limit of restarts in a row: a reboot loop or a crashing init is given up, with the reason. */
  restarts: restartLimitInput.optional(),
};

/** The same fields with their defaults filled in, as the exit policy uses them (other fields of the section ignored). */
export const powerSchema = z.object(powerFields).transform((section) => ({
  onReboot: section.onReboot ?? ('restart' as OnReboot),
  restarts: { ...defaultRestartLimit, ...stripUndefined(section.restarts ?? {}) } as RestartLimit,
}));

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
