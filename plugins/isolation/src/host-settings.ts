/**
 * The admin's host-wide choices for this plugin: `settings.isolation` of the host config
 * (host.json), never a box's config. Each one is off by default and opts a host out of a
 * protection, so a box config (which a tenant may write) can never turn one back on.
 *
 *   { "settings": { "isolation": { "setuidInIdmappedMounts": false, "reachableSources": false,
 *                                  "realtimeScheduling": false, "rangeCooldownSeconds": 600 } } }
 */

import { NsboxError, z } from '@nsbox/core';

export const isolationHostSettingsSchema = z.strictObject({
  /**
   * Setuid/setgid bits and file capabilities take effect on idmapped mounts (the rootfs and
   * `idmap` binds). Off: those mounts are nosuid, set by the launcher on the host side, so
   * a setuid-root file the box's root made (owned by host root on disk) raises nobody
   * who runs it through the box's tree.
   */
  setuidInIdmappedMounts: z.boolean().default(false),
  /** A rootfs or bind source that other host users can reach is accepted (refused by default). */
  reachableSources: z.boolean().default(false),
  /** Boxes may use SCHED_FIFO, SCHED_RR and sched_setattr (refused by seccomp by default). */
  realtimeScheduling: z.boolean().default(false),
  /** How long a destroyed box's uid range rests before another box gets it. */
  rangeCooldownSeconds: z
    .number()
    .int()
    .min(0)
    .max(365 * 86400)
    .default(600),
});

export type IsolationHostSettings = z.output<typeof isolationHostSettingsSchema>;

/** The plugin's part of the host config's `settings`, checked: a bad value names its field. */
export function isolationHostSettings(all: Record<string, unknown> | undefined): IsolationHostSettings {
  const parsed = isolationHostSettingsSchema.safeParse(all?.isolation ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: ['settings', 'isolation', ...issue.path].join('.'), message: issue.message }));
  throw new NsboxError('E_INVALID_CONFIG', `host config: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, {
    details: { field: issues[0]?.path, issues },
  });
}
