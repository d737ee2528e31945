/** The admin's `settings.migration` in host.json. */

import { z } from '@nsbox/core';

export const migrationSettingsSchema = z.strictObject({
  /** The private prefix criu is installed in (scripts/criu.mjs); default NSBOX_CRIU_PREFIX or /var/lib/nsbox/criu. */
  criuPrefix: z.string().startsWith('/', 'an absolute path').optional(),
  /**
   * CRIU_FAULT for every criu call. 130 makes criu do without hardware breakpoints, which
   * never fire in some VMs (a dump then hangs, a restore kills the tree); harmless elsewhere.
   * An empty string sets none.
   */
  fault: z.string().regex(/^\d*$/, 'a number, or empty').default('130'),
  /** A criu call that takes longer is killed (with whatever it forked) and the operation fails. */
  timeoutSeconds: z.number().int().positive().default(300),
  /** criu's log verbosity (0–4); the logs stay beside the box's files. */
  verbosity: z.number().int().min(0).max(4).default(2),
  /** The largest box archive another host may stream here (a migration's root and images); a longer one is refused before a byte is read. */
  maxUploadBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024 ** 3),
});

export type MigrationSettings = z.infer<typeof migrationSettingsSchema>;
