/**
 * The sharing plugin: boxes made from a template share it copy-on-write (the runtime's rootfs
 * layers, chosen at `provision`).
 */

import { boxInfoPoint, contribute, definePlugin } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { type SharingConfig, sharingConfigSchema, sharingSettingsSchema } from './config-schema.js';
import { sharingActions } from './template-actions.js';
import { TemplateSharing } from './template-sharing.js';
import { version } from './version.js';

export const sharingPlugin = definePlugin({
  name: 'sharing',
  version,
  description: 'templates shared copy-on-write through overlayfs, and shares of CPU, IO and memory',
  core: '^1.1.0',
  config: sharingConfigSchema,
  hostSettings: sharingSettingsSchema,
  tenantSafe: { template: true },
  deps: { layers: runtimeRefs.rootfsLayers },
  actions: sharingActions,
  setup: ({ deps, settings }) => {
    const templates = new TemplateSharing(deps.layers, sharingSettingsSchema.parse(settings ?? {}));
    return {
      hooks: {
        validate: (ctx) => templates.validate(ctx.box, ctx.config as SharingConfig | undefined),
        provision: (ctx) => templates.provision(ctx.box, ctx.config as SharingConfig | undefined, ctx.operation),
        rollback: (ctx, hook) => {
          if (hook === 'provision') templates.release(ctx.box);
        },
      },
      contributions: [contribute(boxInfoPoint, { section: 'sharing', describe: (box) => templates.describe(box) ?? { layers: [] } })],
    };
  },
});
