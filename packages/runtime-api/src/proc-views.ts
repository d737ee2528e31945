/**
 * The /proc views handoff: a plugin declares, in its `spec` hook, which of a box's /proc and
 * /sys files the box sees as its own — its memory limit as MemTotal, the CPUs it may use,
 * its own load average — instead of the host's. It never serves a read: the box's shim
 * opens a FUSE connection for the box, keeps it for the box's whole life, and runs
 * `nsbox-proc-view`, the box's own server, on it (started again at once when it dies; the
 * box's reads wait meanwhile and never fail). The first server binds its files over the
 * box's while the init is held before exec (native/PROTOCOL.md §2, "/proc views").
 * Why not lxcfs (one host-wide FUSE daemon): its crash fails every container's reads with
 * ENOTCONN. Here a crash reaches one box, and heals by itself.
 *
 * The runtime fills in what only it knows (the box's cgroup files) in the server's config.
 * Carried in the spec under the launch annotation, like the other launch contributions.
 */

import { NsboxError, type OciSpec } from '@nsbox/core';
import { contributeLaunch, LAUNCH_ANNOTATION, launchContributions } from './launch.js';

/** The files a view can replace, by the name the server knows them by. */
/** `kmsg`: the box's own kernel log at its /dev/kmsg (its own lines and the host kernel's lines about its processes). */
export const procViewFiles = ['meminfo', 'cpuinfo', 'stat', 'loadavg', 'swaps', 'diskstats', 'cpu-online', 'kmsg'] as const;
export type ProcViewFile = (typeof procViewFiles)[number];

/** What a plugin asked for, with its name. */
export interface ProcViews {
  owner: string;
  files: ProcViewFile[];
}

/** The views the spec asks for, if any. */
export function procViews(spec: Pick<OciSpec, 'annotations'>): ProcViews | undefined {
  const views = launchContributions(spec).procViews;
  return views && views.files.length > 0 ? views : undefined;
}

/**
 * Asks for `files` as views of the box (an empty list: none). One plugin owns a box's
 * views: another plugin's request is refused, naming both.
 */
export function contributeProcViews(spec: Pick<OciSpec, 'annotations'>, owner: string, files: readonly ProcViewFile[]): void {
  const field = `annotations.${LAUNCH_ANNOTATION}.procViews`;
  const current = launchContributions(spec).procViews;
  if (current && current.owner !== owner && current.files.length > 0) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: the /proc views are plugin '${current.owner}''s already; '${owner}' cannot add others`, {
      details: { field },
    });
  }
  for (const file of files) {
    if (!(procViewFiles as readonly string[]).includes(file)) {
      throw new NsboxError('E_INVALID_CONFIG', `${field}.files: no view of '${file}' (there are: ${procViewFiles.join(', ')})`, {
        details: { field: `${field}.files` },
      });
    }
  }
  contributeLaunch(spec, { procViews: { owner, files: [...new Set(files)] } });
}
