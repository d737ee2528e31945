/**
 * The virtualisation plugin, first slice: a box with its own kernel release and version,
 * its own sysinfo(2), its own uptime, and its hostname changed live. The syscalls are answered by the box's own
 * nsbox-notify helper (runtime-api `contributeNotify`): crash-isolated per box, never
 * failing the box's call.
 */

import { boxInfoPoint, contribute, definePlugin } from '@nsbox/core';
import { contributeNotify } from '@nsbox/runtime-api';
import { describeVirtualisation } from './box-info.js';
import { virtualisationConfigSchema } from './config-schema.js';
import { hostnameAction } from './hostname-action.js';
import { notifyRulesFor } from './notify-rules.js';
import { addProcViews } from './proc-views/index.js';
import { addTimeNamespace } from './time-namespace.js';
import { version } from './version.js';

export const virtualisationPlugin = definePlugin({
  name: 'virtualisation',
  version,
  description: 'a box that looks like a server of its own: its kernel release, its sysinfo, its uptime, its hostname changed live',
  core: '^1.1.0',
  config: virtualisationConfigSchema,
  tenantSafe: { kernel: true, sysinfo: true, timeNamespace: true, procViews: true, kernelLog: true },
  actions: [hostnameAction],
  setup: () => ({
    hooks: {
      spec: (ctx) => {
        const config = virtualisationConfigSchema.parse(ctx.config ?? {});
        contributeNotify(ctx.spec, 'virtualisation', notifyRulesFor(config));
        if (config.timeNamespace) addTimeNamespace(ctx.spec);
        addProcViews(ctx.spec, config);
      },
    },
    contributions: [contribute(boxInfoPoint, { section: 'virtualisation', describe: describeVirtualisation })],
  }),
});
