/**
 * The config of a box's `nsbox-notify` (native/src/notify.c): the plugins' notify rules
 * (`contributeNotify`) with what only the runtime knows filled in — the box's cgroup files
 * for `sysinfo`, on v1 (memsw counts memory and swap) or v2 alike; for `quotactl` and
 * `quotactl_fd` (unless the plugin refuses them with a `reason`), the loop device of the box's
 * own disk image and whether it stores the box's ids (an idmapped root) or the host's.
 *
 *   handler NAME
 *   KEY VALUE        (the value is the rest of the line)
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, type OciIdMapping, type OciSpec } from '@nsbox/core';
import { type BoxCgroup, checkNotifyRule, launchContributions, type OwnedNotifyRule } from '@nsbox/runtime-api';
import { mounts } from './layers/overlay-mount.js';

export const NOTIFY_CONFIG_FILE = 'notify.conf';
/** The options the start wrote the config with (the launch spec's, which only the start has): a live update writes it again with them. */
export const NOTIFY_OPTIONS_FILE = 'notify-options.json';
export const NOTIFY_SOCKET_FILE = 'notify.sock';

/** The sysinfo handler's cgroup files: memory limit and usage, swap, process count. */
function sysinfoParams(cgroup: BoxCgroup): [string, string][] {
  const params: [string, string][] = [];
  const memory = cgroup.v1Dirs.memory;
  if (memory) {
    params.push(['memory.limit', join(memory, 'memory.limit_in_bytes')], ['memory.usage', join(memory, 'memory.usage_in_bytes')]);
    // Without swap accounting (swapaccount=0) v1 has no memsw files: the host's swap stays.
    if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) {
      params.push(
        ['swap.limit', join(memory, 'memory.memsw.limit_in_bytes')],
        ['swap.usage', join(memory, 'memory.memsw.usage_in_bytes')],
        ['swap.with-memory', '1'],
      );
    }
  } else if (cgroup.unifiedDir && existsSync(join(cgroup.unifiedDir, 'memory.max'))) {
    const dir = cgroup.unifiedDir;
    params.push(['memory.limit', join(dir, 'memory.max')], ['memory.usage', join(dir, 'memory.current')]);
    if (existsSync(join(dir, 'memory.swap.max'))) params.push(['swap.limit', join(dir, 'memory.swap.max')], ['swap.usage', join(dir, 'memory.swap.current')]);
  }
  const pids = cgroup.v1Dirs.pids ?? (cgroup.unifiedDir && existsSync(join(cgroup.unifiedDir, 'pids.current')) ? cgroup.unifiedDir : undefined);
  if (pids) params.push(['procs', join(pids, 'pids.current')]);
  return params;
}

/** Why a box's quotactl is refused when it has no disk image of its own. */
export const NO_IMAGE_REASON = "the box has no disk image of its own (limits.disk): quotas inside a box are served on the box's own image only";

/** The box's own disk image, for the quotactl handlers. */
export interface QuotaDisk {
  /** Where the image is mounted on the host (the launch contribution `diskImage`). */
  mountPoint: string;
  /** The box's id maps when the image stores the box's ids (its root is idmapped); else the host's ids are on disk. */
  idmap?: { uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] };
}

export interface NotifyConfigOptions {
  /** The box has a loadavg view: sysinfo's loads are read from it (the box's own load). */
  loadavgView?: boolean;
  /** The box's root is a disk image of its own: its quotactl is served there. */
  quotaDisk?: QuotaDisk;
}

/**
 * The box's disk image from the spec the launcher gets: its root idmapped (rootfsIdmap) means
 * the box's ids are on disk; a layered box's overlay (not idmapped) writes the host's.
 */
export function quotaDiskOf(spec: Pick<OciSpec, 'annotations' | 'linux'>): { quotaDisk?: QuotaDisk } {
  const launch = launchContributions(spec);
  if (!launch.diskImage) return {};
  const idmap =
    launch.rootfsIdmap && (spec.linux.uidMappings ?? []).length > 0 && (spec.linux.gidMappings ?? []).length > 0
      ? { uidMappings: spec.linux.uidMappings ?? [], gidMappings: spec.linux.gidMappings ?? [] }
      : undefined;
  return { quotaDisk: { mountPoint: launch.diskImage, ...(idmap ? { idmap } : {}) } };
}

function mapText(mappings: OciIdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join(',');
}

/**
 * The quotactl handlers' params: the plugin's refusal as it is; else the image's loop device
 * (the first mount at its mount point: a box's overlay may be stacked on it) and its id maps.
 */
function quotaParams(rule: OwnedNotifyRule, disk: QuotaDisk | undefined): [string, string][] {
  const given = Object.entries(rule.params ?? {}).map(([key, value]) => [key, String(value)] as [string, string]);
  if (given.some(([key]) => key === 'reason')) return given;
  const device = disk && mounts().find((entry) => entry.point === disk.mountPoint)?.source;
  if (!disk || !device?.startsWith('/dev/')) return [['reason', NO_IMAGE_REASON]];
  const params: [string, string][] = [['device', device]];
  if (disk.idmap) params.push(['disk-uid-map', mapText(disk.idmap.uidMappings)], ['disk-gid-map', mapText(disk.idmap.gidMappings)]);
  return params;
}

export function notifyConfig(rules: readonly OwnedNotifyRule[], cgroup: BoxCgroup, options: NotifyConfigOptions = {}): string {
  const lines = ['# nsbox-notify: written by the runtime at the box start (packages/runtime/src/notify-config.ts)'];
  for (const rule of rules) {
    checkNotifyRule(rule);
    lines.push(`handler ${rule.handler}`);
    const params: [string, string][] =
      rule.handler === 'sysinfo'
        ? [...sysinfoParams(cgroup), ...(options.loadavgView ? ([['loadavg', 'view']] as [string, string][]) : [])]
        : rule.handler === 'quotactl' || rule.handler === 'quotactl_fd'
          ? quotaParams(rule, options.quotaDisk)
          : Object.entries(rule.params ?? {}).map(([key, value]) => [key, String(value)]);
    for (const [key, value] of params) {
      if (/[\n\r]/.test(value) || value === '') {
        throw new NsboxError('E_INVALID_CONFIG', `notify rule of '${rule.owner}': ${rule.handler} ${key} must be one non-empty line`, {
          details: { field: `notify.${key}` },
        });
      }
      lines.push(`${key} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
