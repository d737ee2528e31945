/**
 * The config of a box's `nsbox-notify` (native/src/notify.c): the plugins' notify rules
 * (`contributeNotify`) with what only the runtime knows filled in — the box's cgroup files
 * for `sysinfo`, on v1 (memsw counts memory and swap) or v2 alike.
 *
 *   handler NAME
 *   KEY VALUE        (the value is the rest of the line)
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, checkNotifyRule, type OwnedNotifyRule } from '@nsbox/runtime-api';

export const NOTIFY_CONFIG_FILE = 'notify.conf';
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

export interface NotifyConfigOptions {
  /** The box has a loadavg view: sysinfo's loads are read from it (the box's own load). */
  loadavgView?: boolean;
}

export function notifyConfig(rules: readonly OwnedNotifyRule[], cgroup: BoxCgroup, options: NotifyConfigOptions = {}): string {
  const lines = ['# nsbox-notify: written by the runtime at the box start (packages/runtime/src/notify-config.ts)'];
  for (const rule of rules) {
    checkNotifyRule(rule);
    lines.push(`handler ${rule.handler}`);
    const params: [string, string][] =
      rule.handler === 'sysinfo'
        ? [...sysinfoParams(cgroup), ...(options.loadavgView ? ([['loadavg', 'view']] as [string, string][]) : [])]
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
