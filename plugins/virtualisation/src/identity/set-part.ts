/**
 * The virtualisation part of `nsbox set NAME --hostname H --domainname D` (the core's set
 * command): the names are kept in the config — the host name in the core's `hostname` field,
 * which the launcher sets at every start, the domain name in this plugin's section, which its
 * spec hook hands to the launcher — and a running box gets them at once: its UTS namespace
 * through a pidfd of its init (runtimeRefs.uts), then its /etc/hostname and /etc/hosts
 * (name-files.ts).
 */

import { dnsName, isNsboxError, type SetOptionContribution, z } from '@nsbox/core';
import { boxRoot, type UtsService } from '@nsbox/runtime-api';
import type { BoxNames } from './hosts-file.js';
import { type BoxNameFiles, boxNames, type FilesOutcome, NO_DOMAIN } from './name-files.js';

export function identitySetPart(uts: () => UtsService | undefined, files: BoxNameFiles): SetOptionContribution {
  return {
    plugin: 'virtualisation',
    options: {
      hostname: { flags: '--hostname <name>', description: "the box's host name (RFC 1123), set live" },
      domainname: { flags: '--domainname <name>', description: "the box's domain name (RFC 1123; 'none' removes it), set live" },
    },
    input: z.strictObject({ hostname: dnsName.optional(), domainname: z.union([z.literal('none'), dnsName]).optional() }),
    changes(box, { hostname, domainname }) {
      const changes: Record<string, unknown> = {};
      if (hostname !== undefined) changes.hostname = hostname;
      if (domainname !== undefined) {
        const { domainname: _old, ...rest } = (box.config.virtualisation as Record<string, unknown> | undefined) ?? {};
        const section = domainname === 'none' ? rest : { ...rest, domainname };
        changes.virtualisation = Object.keys(section).length > 0 ? section : null;
      }
      return changes;
    },
    applyLive(box, _values, previous) {
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
    },
    report: (box, live) => ({ ...boxNames(box), domainname: boxNames(box).domainname ?? null, ...(live as object | undefined) }),
    render(part) {
      const shown = part as BoxNames & { live?: boolean; files?: FilesOutcome };
      const full = shown.domainname ? `${shown.hostname}.${shown.domainname}` : shown.hostname;
      const files = shown.files?.skipped ? `; files left as they were: ${shown.files.skipped}` : '';
      return `names: ${full}${shown.live ? ' (set live)' : ''}${files}`;
    },
  };
}
