/**
 * The virtualisation plugin: a box with its own kernel release and version, its own
 * sysinfo(2), its own uptime, its hostname changed live (the syscalls answered by the box's
 * own nsbox-notify helper, runtime-api `contributeNotify`: crash-isolated per box); reboot
 * and halt from inside with a restart policy (power-policy.ts); systemd as PID 1
 * (system-boot.ts).
 */

import { boxInfoPoint, contribute, coreRefs, definePlugin, exitPolicyPoint, setOptionPoint } from '@nsbox/core';
import { contributeNotify, runtimeRefs } from '@nsbox/runtime-api';
import { describeVirtualisation } from './box-info.js';
import { virtualisationConfigSchema } from './config-schema.js';
import { BoxNameFiles, NO_DOMAIN, ownsUtsNamespace } from './identity/name-files.js';
import { identitySetPart } from './identity/set-part.js';
import { notifyRulesFor } from './notify-rules.js';
import { PowerPolicy } from './power-policy.js';
import { addProcViews } from './proc-views/index.js';
import { allowRebootFromInside } from './reboot-capability.js';
import { addSystemdEnvironment, bootsSystemd, checkInit, delegateCgroup, giveConsoleToBox, mountsCgroupTree } from './system-boot.js';
import { addTimeNamespace } from './time-namespace.js';
import { version } from './version.js';

export const virtualisationPlugin = definePlugin({
  name: 'virtualisation',
  version,
  description: 'a box that looks like a server of its own: its kernel release, its sysinfo, its uptime, its hostname changed live',
  core: '^1.1.0',
  config: virtualisationConfigSchema,
  tenantSafe: {
    kernel: true,
    sysinfo: true,
    timeNamespace: true,
    procViews: true,
    kernelLog: true,
    quota: true,
    onReboot: true,
    restarts: true,
    boot: true,
    domainname: true,
  },
  deps: { state: coreRefs.pluginState },
  optionalDeps: { cgroups: runtimeRefs.cgroups },
  setup: ({ deps, services }) => {
    const power = new PowerPolicy(deps.state);
    const nameFiles = new BoxNameFiles(deps.state);
    // The Linux runtime's cgroups; a host with another driver has none.
    const cgroups = services.getOptional(runtimeRefs.cgroups);
    return {
      hooks: {
        spec: (ctx) => {
          const config = virtualisationConfigSchema.parse(ctx.config ?? {});
          const systemd = bootsSystemd(config.boot ?? 'auto', ctx.spec, ctx.box);
          contributeNotify(ctx.spec, 'virtualisation', notifyRulesFor(config));
          if (config.timeNamespace) addTimeNamespace(ctx.spec);
          addProcViews(ctx.spec, config);
          if (systemd) addSystemdEnvironment(ctx.spec, cgroups?.layout.unified !== undefined);
          // The launcher sets it at every start, as it sets the core's hostname. A box without
          // one gets the kernel's "none", not the host's, which a new UTS namespace copies.
          if (ownsUtsNamespace(ctx.spec)) ctx.spec.domainname = config.domainname ?? NO_DOMAIN;
        },
        // After every plugin's spec edit: the final namespaces and seccomp filter.
        prepare: (ctx) => {
          allowRebootFromInside(ctx.spec, ctx.box.config);
        },
        configure: (ctx) => {
          // Every plugin prepared (a disk image is mounted): the rootfs is the box's now.
          checkInit(ctx.spec);
          if (cgroups && mountsCgroupTree(ctx.spec)) delegateCgroup(ctx.spec, ctx.box, cgroups);
        },
        // The console goes to the box's root, and names set while stopped to its files, before
        // its init runs; a box with neither is not held for the wire moment.
        wires: (ctx) => ctx.spec.process.terminal === true || nameFiles.pendingAtStart(ctx.box),
        wire: (ctx) => {
          giveConsoleToBox(ctx.spec, ctx.box);
          nameFiles.atStart(ctx.box);
        },
        destroy: (ctx) => {
          power.forget(ctx.box.id);
          nameFiles.forget(ctx.box.id);
        },
      },
      contributions: [
        contribute(boxInfoPoint, { section: 'virtualisation', describe: describeVirtualisation }),
        contribute(exitPolicyPoint, power),
        // `nsbox set NAME --hostname H --domainname D`: kept, and set live in a running box.
        contribute(
          setOptionPoint,
          identitySetPart(
            () => services.getOptional(runtimeRefs.uts),
            () => services.getOptional(runtimeRefs.notify),
            nameFiles,
          ),
        ),
      ],
    };
  },
});
