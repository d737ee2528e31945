/**
 * The sharing plugin: boxes made from a template share it copy-on-write (the runtime's rootfs
 * layers, chosen at `provision`), and each box gets its CPU token bucket, IO weight and burst,
 * and memory guarantee through the runtime's resource arbitration; the CPU bias and the IO
 * burst controllers run as host services of the resident agent.
 */

import { boxInfoPoint, boxOptionPoint, contribute, coreRefs, definePlugin, setOptionPoint } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { BiasController } from './bias-controller.js';
import { type SharingConfig, sharingConfigSchema, sharingSettingsSchema } from './config-schema.js';
import { dedupeAction } from './dedupe-action.js';
import { IoBurstController } from './io-burst-controller.js';
import { rebaseAction } from './rebase-action.js';
import { shareSetAction, sharingSetPart } from './share-actions.js';
import { ShareRegistry } from './share-registry.js';
import { ShareService } from './share-service.js';
import { templateActions } from './template-actions.js';
import { TemplateSharing } from './template-sharing.js';
import { version } from './version.js';

export const sharingPlugin = definePlugin({
  name: 'sharing',
  version,
  description: 'templates shared copy-on-write through overlayfs, and shares of CPU (a token bucket with burst and bias), IO and memory',
  core: '^1.1.0',
  config: sharingConfigSchema,
  hostSettings: sharingSettingsSchema,
  tenantSafe: { template: true },
  deps: { layers: runtimeRefs.rootfsLayers, cgroups: runtimeRefs.cgroupManager, state: coreRefs.pluginState },
  actions: [...templateActions, rebaseAction, dedupeAction, shareSetAction],
  setup: ({ deps, settings, log }) => {
    const hostSettings = sharingSettingsSchema.parse(settings ?? {});
    const templates = new TemplateSharing(deps.layers, hostSettings);
    const registry = new ShareRegistry(deps.state);
    const shares = new ShareService(deps.cgroups, registry);
    const bias = new BiasController(registry, deps.cgroups, hostSettings.biasTickMs);
    const ioBurst = new IoBurstController(registry, deps.cgroups, hostSettings.ioTickMs);
    const section = (config: unknown) => config as SharingConfig | undefined;
    /** A running box's root mount point: the IO burst's disk is found from it. */
    const ownFiles = (ctx: { spec: { root?: { path: string } } }) => () => ctx.spec.root?.path as string;
    return {
      hooks: {
        validate: (ctx) => {
          templates.validate(ctx.box, section(ctx.config));
          shares.validate(ctx.box, section(ctx.config));
        },
        provision: (ctx) => templates.provision(ctx.box, section(ctx.config), ctx.operation),
        configure: (ctx) => shares.configure(ctx.box, section(ctx.config), ownFiles(ctx)),
        update: (ctx) => shares.update(ctx.box, section(ctx.config), ownFiles(ctx)),
        exited: (ctx) => shares.stopped(ctx.box),
        stopped: (ctx) => shares.stopped(ctx.box),
        rollback: (ctx, hook) => {
          if (hook === 'provision') templates.release(ctx.box);
          if (hook === 'update') shares.restore(ctx.box, ctx.previous, ownFiles(ctx));
        },
      },
      contributions: [
        // `nsbox create NAME --template debian-12 --shared`: the box runs on the template's shared layer.
        contribute(boxOptionPoint, {
          flags: '--shared',
          key: 'shared',
          description: "run on the template's shared layer, copy-on-write, instead of a copy of it (sharing plugin)",
          apply: (config, value) => {
            if (value === true) config.sharing = { ...(config.sharing as object | undefined), template: 'shared' };
          },
        }),
        // `nsbox set NAME --share-weight 300 --memory-guarantee 256M`, live through the update hook.
        contribute(setOptionPoint, sharingSetPart),
        contribute(boxInfoPoint, {
          section: 'sharing',
          describe: (box) => ({
            ...(templates.describe(box) ?? { layers: [] }),
            ...shares.describe(box, sharingConfigSchema.parse(box.config.sharing ?? {})),
          }),
        }),
      ],
      services: [
        { name: 'cpu-bias', start: () => bias.start(log), stop: () => bias.stop() },
        { name: 'io-burst', start: () => ioBurst.start(log), stop: () => ioBurst.stop() },
      ],
    };
  },
});
