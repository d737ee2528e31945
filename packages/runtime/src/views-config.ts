/**
 * The config of a box's `nsbox-proc-view` (native/src/proc-view.c): the views a plugin asked
 * for (`contributeProcViews`) with what only the runtime knows filled in — the box's cgroup
 * files, on v1 (memsw counts memory and swap) or v2 alike. Every file is read at each open,
 * so a limit changed while the box runs shows at once.
 *
 *   file NAME        (one per view)
 *   KEY PATH         (memory.limit, memory.usage, memory.stat, swap.*, cpuset.cpus, cpu.*, tasks)
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxCgroup, ProcViews } from '@nsbox/runtime-api';

export const VIEWS_CONFIG_FILE = 'views.conf';

/** The cgroup files of the box the server reads, as [key, path] pairs (only those that exist). */
function cgroupParams(cgroup: BoxCgroup): [string, string][] {
  const params: [string, string][] = [];
  const add = (key: string, dir: string | undefined, file: string) => {
    if (dir && existsSync(join(dir, file))) params.push([key, join(dir, file)]);
  };
  const v1 = cgroup.v1Dirs;
  const v2 = cgroup.unifiedDir;
  if (v1.memory) {
    add('memory.limit', v1.memory, 'memory.limit_in_bytes');
    add('memory.usage', v1.memory, 'memory.usage_in_bytes');
    add('memory.stat', v1.memory, 'memory.stat');
    // Without swap accounting (swapaccount=0) v1 has no memsw files: the host's swap stays.
    if (existsSync(join(v1.memory, 'memory.memsw.limit_in_bytes'))) {
      add('swap.limit', v1.memory, 'memory.memsw.limit_in_bytes');
      add('swap.usage', v1.memory, 'memory.memsw.usage_in_bytes');
      params.push(['swap.with-memory', '1']);
    }
  } else {
    add('memory.limit', v2, 'memory.max');
    add('memory.usage', v2, 'memory.current');
    add('memory.stat', v2, 'memory.stat');
    add('swap.limit', v2, 'memory.swap.max');
    add('swap.usage', v2, 'memory.swap.current');
  }
  if (v1.cpuset) add('cpuset.cpus', v1.cpuset, 'cpuset.cpus');
  else add('cpuset.cpus', v2, 'cpuset.cpus.effective');
  if (v1.cpu) {
    add('cpu.quota', v1.cpu, 'cpu.cfs_quota_us');
    add('cpu.period', v1.cpu, 'cpu.cfs_period_us');
  } else add('cpu.max', v2, 'cpu.max');
  if (v1.cpuacct) add('cpu.usage-v1', v1.cpuacct, 'cpuacct.stat');
  else add('cpu.stat-v2', v2, 'cpu.stat');
  // Every thread of the box, for its load average.
  const tasksDir = v1.pids ?? v1.memory ?? v1.cpu ?? Object.values(v1)[0];
  if (tasksDir) add('tasks', tasksDir, 'tasks');
  else add('tasks', v2, 'cgroup.threads');
  return params;
}

export function viewsConfig(views: ProcViews, cgroup: BoxCgroup): string {
  const lines = [`# nsbox-proc-view: written by the runtime at the box start (packages/runtime/src/views-config.ts), views of '${views.owner}'`];
  for (const file of views.files) lines.push(`file ${file}`);
  // How the host kernel's log names the box's cgroup (oom-kill lines, /proc/PID/cgroup).
  lines.push(`cgroup.name ${cgroup.name}`);
  for (const [key, value] of cgroupParams(cgroup)) {
    // A cgroup path is the runtime's own; a newline would end the line early.
    if (/[\n\r]/.test(value)) throw new Error(`views config: ${key} path has a newline: ${JSON.stringify(value)}`);
    lines.push(`${key} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
