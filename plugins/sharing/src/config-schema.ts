/**
 * The `sharing` section of a box config, and the plugin's host settings. A box that says
 * nothing gets the host's choice for templates (`templates` in host.json, `copy` unless the
 * admin says `shared`) and no shares of its own (the kernel's defaults).
 */

import { z } from '@nsbox/core';

/** How a box made from a template gets its rootfs: an overlay over the template's shared layer, or a copy of its own. */
export const templateModeSchema = z.enum(['shared', 'copy']);
export type TemplateMode = z.infer<typeof templateModeSchema>;

export const sharingConfigSchema = z.strictObject({
  /** `shared`: the template's layer read-only under the box's own upper layer; `copy`: a full copy. Unset: the host's setting. */
  template: templateModeSchema.optional(),
});

export type SharingConfig = z.infer<typeof sharingConfigSchema>;

export const sharingSettingsSchema = z.strictObject({
  /** What boxes from a template get when their config does not say. */
  templates: templateModeSchema.default('copy'),
});

export type SharingSettings = z.infer<typeof sharingSettingsSchema>;
