/**
 * The virtualisation part of `nsbox set NAME --hostname H --domainname D` (the core's set
 * command): the names are kept in the config — the host name in the core's `hostname` field,
 * which the launcher sets at every start, the domain name in this plugin's section, which its
 * spec hook hands to the launcher — and a running box gets them at once: its UTS namespace
 * through a pidfd of its init (runtimeRefs.uts), then its /etc/hostname and /etc/hosts,
 * read and written without following anything the box planted.
 */

import { type Box, type SetOptionContribution, z } from '@nsbox/core';
import { native } from '@nsbox/native';
import { runtimeFacts, type UtsService } from '@nsbox/runtime-api';
import { dnsName } from './dns-name.js';
import { type BoxNames, renameInHosts } from './hosts-file.js';

/** What the kernel calls a UTS namespace's missing domain name (`domainname` prints it). */
const NO_DOMAIN = '(none)';

/** /etc/hosts larger than this is not a hosts file nsbox rewrites. */
const HOSTS_MAX = 1 << 20;

export function boxNames(box: Pick<Box, 'name' | 'config'>): BoxNames {
  const section = box.config.virtualisation as { domainname?: string } | undefined;
  return { hostname: box.config.hostname ?? box.name, domainname: section?.domainname };
}

/** What changed in the box's files; a file the box made unwritable (a symlinked /etc) is reported, not fatal. */
export interface FilesOutcome {
  written: string[];
  skipped?: string;
}

function updateFiles(rootfs: string, from: BoxNames, to: BoxNames): FilesOutcome {
  try {
    native().writeFileInRoot(rootfs, 'etc/hostname', `${to.hostname}\n`, 0o644);
    const hosts = native().readFileInRoot(rootfs, 'etc/hosts', HOSTS_MAX)?.toString('utf8') ?? '';
    const next = renameInHosts(hosts, from, to);
    if (next !== hosts) native().writeFileInRoot(rootfs, 'etc/hosts', next, 0o644);
    return { written: next !== hosts ? ['/etc/hostname', '/etc/hosts'] : ['/etc/hostname'] };
  } catch (error) {
    return { written: [], skipped: (error as Error).message };
  }
}

export function identitySetPart(uts: () => UtsService | undefined): SetOptionContribution {
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
      // No domain name: the kernel's own word for none, as a new UTS namespace of this host has it.
      service.setNames(box, { hostname: names.hostname, domainname: names.domainname ?? NO_DOMAIN });
      const rootfs = runtimeFacts(box).rootfs;
      return { live: true, ...(rootfs ? { files: updateFiles(rootfs, boxNames(previous), names) } : {}) };
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
