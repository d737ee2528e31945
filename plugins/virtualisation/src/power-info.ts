/** The power part of the `virtualisation` section of `nsbox info`: reboot policy, restarts, boot, why it stopped. */

import type { Box } from '@nsbox/core';
import { powerSchema } from './power-schema.js';

export function describePower(box: Pick<Box, 'config' | 'runtime'>): Record<string, unknown> {
  const section = (box.config.virtualisation ?? {}) as { boot?: string };
  const parsed = powerSchema.safeParse(section);
  const power = parsed.success ? parsed.data : undefined;
  const pending = box.runtime.pendingRestart as { at: number; reason: string } | undefined;
  return {
    boot: section.boot ?? 'auto',
    ...(power
      ? {
          onReboot: power.onReboot,
          restarts: `at most ${power.restarts.max} in a row, each ${power.restarts.backoffMs} ms later than the one before (the first at once, at most ${power.restarts.maxBackoffMs} ms); a run of ${power.restarts.stableMs} ms ends the series`,
        }
      : {}),
    ...(pending ? { pendingRestart: `after a ${pending.reason}, at ${new Date(pending.at).toISOString()}` } : {}),
    ...(typeof box.runtime.stopReason === 'string' ? { stopReason: box.runtime.stopReason } : {}),
  };
}
