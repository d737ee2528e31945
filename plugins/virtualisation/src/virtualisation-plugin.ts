/**
 * The virtualisation plugin, first slice: a box with its own kernel release and version,
 * its own sysinfo(2), its own uptime, and its hostname changed live. The syscalls are answered by the box's own
 * nsbox-notify helper (runtime-api `contributeNotify`): crash-isolated per box, never
 * failing the box's call.
 */

import { boxInfoPoint, contribute, coreRefs, definePlugin, exitPolicyPoint } from '@nsbox/core';
import { contributeNotify } from '@nsbox/runtime-api';
import { describeVirtualisation } from './box-info.js';
import { virtualisationConfigSchema } from './config-schema.js';
import { hostnameAction } from './hostname-action.js';
import { notifyRulesFor } from './notify-rules.js';
import { PowerPolicy } from './power-policy.js';
import { allowRebootFromInside } from './reboot-capability.js';
import { addTimeNamespace } from './time-namespace.js';
import { version } from './version.js';

export const virtualisationPlugin = definePlugin({
  name: 'virtualisation',
  version,
  description: 'a box that looks like a server of its own: its kernel release, its sysinfo, its uptime, its hostname changed live',
  core: '^1.1.0',
  config: virtualisationConfigSchema,
  tenantSafe: { kernel: true, sysinfo: true, timeNamespace: true, onReboot: true, restarts: true },
  deps: { state: coreRefs.pluginState },
  actions: [hostnameAction],
  setup: ({ deps }) => {
    const power = new PowerPolicy(deps.state);
    return {
      hooks: {
        spec: (ctx) => {
          const config = virtualisationConfigSchema.parse(ctx.config ?? {});
          contributeNotify(ctx.spec, 'virtualisation', notifyRulesFor(config));
          if (config.timeNamespace) addTimeNamespace(ctx.spec);
        },
        // After every plugin's spec edit: the final namespaces and seccomp filter.
        prepare: (ctx) => {
          allowRebootFromInside(ctx.spec, ctx.box.config);
        },
        destroy: (ctx) => power.forget(ctx.box.id),
      },
      contributions: [contribute(boxInfoPoint, { section: 'virtualisation', describe: describeVirtualisation }), contribute(exitPolicyPoint, power)],
    };
  },
});
