/**
 * The admin's host-wide limits: `settings.limits` of the host config (host.json), never a
 * box's config, so a box (which a tenant may write) cannot lift them.
 *
 *   { "settings": { "limits": { "defaultPids": 4096, "maxPids": 16384,
 *                               "maxRlimits": { "rtprio": 0, "nice": 0, "nofile": 65536 } } } }
 *
 * - `defaultPids`: the pids limit of every box whose section sets none (null: no default).
 *   4096 by default: a box is a whole system (init, services, their threads), so it gets
 *   more than podman's 2048 for one application and about what systemd gives a unit
 *   (DefaultTasksMax, 15% of a default pid_max of 32768), while a fork bomb in one box
 *   stays far from the host's pid_max.
 * - `maxPids`: the most a box's own `limits.pids` may ask for (null: no cap).
 * - `maxRlimits`: per rlimit name, the highest hard limit a box may ask for; the init of
 *   every box also gets each capped rlimit at most at its cap. `rtprio` and `nice` are capped
 *   at 0 unless the admin names them: real-time priorities and raised nice levels let one
 *   box starve the host (allowing real-time also needs the isolation plugin's
 *   `realtimeScheduling`, which opens the scheduler syscalls in seccomp).
 */

import { NsboxError, z } from '@nsbox/core';
import { isRlimitName, parseRlimitValue, type RlimitName, type RlimitValue, rlimitNames } from './rlimits.js';
import { parseCount } from './units.js';

export const DEFAULT_PIDS = 4096;

/** rlimits capped when the admin says nothing about them. */
export const DEFAULT_RLIMIT_CAPS: Readonly<Partial<Record<RlimitName, RlimitValue>>> = { rtprio: 0, nice: 0 };

const pidCount = z.union([z.number(), z.string()]).transform((value, context) => {
  try {
    const count = parseCount(value);
    if (count >= 1) return count;
    context.addIssue({ code: 'custom', message: 'must be at least 1 (null for none)' });
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
  return z.NEVER;
});

const rlimitCaps = z.record(z.string(), z.union([z.number(), z.string()])).transform((entries, context) => {
  const caps: Partial<Record<RlimitName, RlimitValue>> = { ...DEFAULT_RLIMIT_CAPS };
  for (const [name, value] of Object.entries(entries)) {
    if (!isRlimitName(name)) {
      context.addIssue({ code: 'custom', path: [name], message: `unknown rlimit '${name}' (one of: ${Object.keys(rlimitNames).join(', ')})` });
      continue;
    }
    try {
      caps[name] = parseRlimitValue(name, value);
    } catch (error) {
      context.addIssue({ code: 'custom', path: [name], message: (error as Error).message });
    }
  }
  return caps;
});

export const limitsHostSettingsSchema = z
  .strictObject({
    defaultPids: pidCount.nullable().default(DEFAULT_PIDS),
    maxPids: pidCount.nullable().default(null),
    maxRlimits: rlimitCaps.default({ ...DEFAULT_RLIMIT_CAPS }),
  })
  .superRefine((settings, context) => {
    if (settings.maxPids !== null && (settings.defaultPids === null || settings.defaultPids > settings.maxPids)) {
      context.addIssue({
        code: 'custom',
        path: ['defaultPids'],
        message: `the default must be a number at most maxPids (${settings.maxPids}): a box without a pids limit would be above the cap`,
      });
    }
  });

export type LimitsHostSettings = z.output<typeof limitsHostSettingsSchema>;

/** The plugin's part of the host config's `settings`, checked: a bad value names its field. */
export function limitsHostSettings(all: Record<string, unknown> | undefined): LimitsHostSettings {
  const parsed = limitsHostSettingsSchema.safeParse(all?.['limits'] ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: ['settings', 'limits', ...issue.path].join('.'), message: issue.message }));
  throw new NsboxError('E_INVALID_CONFIG', `host config: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, {
    details: { field: issues[0]?.path, issues },
  });
}
