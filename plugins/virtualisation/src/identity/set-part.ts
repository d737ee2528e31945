/**
 * The virtualisation part of `nsbox set NAME --hostname H --domainname D` (the core's set
 * command): the names are kept in the config — the host name in the core's `hostname` field,
 * which the launcher sets at every start, the domain name in this plugin's section, which its
 * spec hook hands to the launcher — and a running box gets them at once: its UTS namespace
 * through a pidfd of its init (runtimeRefs.uts), then its /etc/hostname and /etc/hosts
 * (name-files.ts). `--kernel-release`/`--kernel-version` likewise for what uname says
 * (kernel-strings.ts).
 */

import { type Box, dnsName, isNsboxError, type SetOptionContribution, z } from '@nsbox/core';
import { boxRoot, type NotifyService, type UtsService } from '@nsbox/runtime-api';
import type { KernelIdentity } from '../config-schema.js';
import type { BoxNames } from './hosts-file.js';
import { applyKernelLive, changedKernel, givesKernel, type KernelShown, kernelInputFields, kernelOptions, shownKernel } from './kernel-strings.js';
import { type BoxNameFiles, boxNames, type FilesOutcome, NO_DOMAIN } from './name-files.js';

export function identitySetPart(uts: () => UtsService | undefined, notify: () => NotifyService | undefined, files: BoxNameFiles): SetOptionContribution {
  return {
    plugin: 'virtualisation',
    options: {
      hostname: { flags: '--hostname <name>', description: "the box's host name (RFC 1123), set live" },
      domainname: { flags: '--domainname <name>', description: "the box's domain name (RFC 1123; 'none' removes it), set live" },
      ...kernelOptions,
    },
    input: z.strictObject({ hostname: dnsName.optional(), domainname: z.union([z.literal('none'), dnsName]).optional(), ...kernelInputFields }),
    changes(box, values) {
      const { hostname, domainname } = values;
      const changes: Record<string, unknown> = {};
      if (hostname !== undefined) changes.hostname = hostname;
      if (domainname !== undefined || givesKernel(values)) {
        const { domainname: oldDomain, kernel: oldKernel, ...rest } = (box.config.virtualisation as Record<string, unknown> | undefined) ?? {};
        const newDomain = domainname === undefined ? oldDomain : domainname === 'none' ? undefined : domainname;
        const newKernel = givesKernel(values) ? changedKernel(oldKernel as KernelIdentity | undefined, values) : oldKernel;
        const section = { ...rest, ...(newDomain !== undefined ? { domainname: newDomain } : {}), ...(newKernel !== undefined ? { kernel: newKernel } : {}) };
        changes.virtualisation = Object.keys(section).length > 0 ? section : null;
      }
      return changes;
    },
    applyLive(box, values, previous) {
      const kernel = givesKernel(values) ? { kernel: { ...shownKernel(box.config.virtualisation), ...applyKernelLive(notify(), box) } } : {};
      if (values.hostname === undefined && values.domainname === undefined) return kernel;
      return { ...applyNamesLive(box, previous), ...kernel };
    },
    report(box, live) {
      const kernel = shownKernel(box.config.virtualisation);
      const { kernel: liveKernel, ...names } = (live as { kernel?: KernelShown } | undefined) ?? {};
      return {
        ...boxNames(box),
        domainname: boxNames(box).domainname ?? null,
        ...(kernel || liveKernel ? { kernel: { ...kernel, ...liveKernel } } : {}),
        ...names,
      };
    },
    render(part) {
      const shown = part as BoxNames & { live?: boolean; files?: FilesOutcome; kernel?: KernelShown };
      const full = shown.domainname ? `${shown.hostname}.${shown.domainname}` : shown.hostname;
      const files = shown.files?.skipped ? `; files left as they were: ${shown.files.skipped}` : '';
      const lines = [`names: ${full}${shown.live ? ' (set live)' : ''}${files}`];
      if (shown.kernel) lines.push(`kernel: ${kernelLine(shown.kernel)}`);
      return lines.join('\n');
    },
  };

  function applyNamesLive(box: Box, previous: Box) {
    const service = uts();
    if (!service) return { live: false };
    const names = boxNames(box);
    try {
      // No domain name: the kernel's own word for none, as a new UTS namespace of this host has it.
      service.setNames(box, { hostname: names.hostname, domainname: names.domainname ?? NO_DOMAIN });
    } catch (error) {
      // The init ended meanwhile: the names are kept, and its next start sets them.
      if (isNsboxError(error) && error.code === 'E_INVALID_STATE') return { live: false };
      throw error;
    }
    const rootfs = boxRoot(box);
    return { live: true, ...(rootfs ? { files: files.update(box, rootfs, boxNames(previous), names) } : {}) };
  }
}

function kernelLine(kernel: KernelShown): string {
  const strings = kernel.release ? `${kernel.release} (${kernel.version})` : "the host's";
  if (kernel.live === true) return `${strings} (set live)`;
  return kernel.reason ? `${strings} (at the next start: ${kernel.reason})` : strings;
}
