/**
 * What a failed operation must not leave behind: mounts, cgroups under a parent, processes.
 * Take a snapshot before, act, and compare after.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PREFIX } from './test-host.js';

export interface HostSnapshot {
  mounts: string[];
  cgroups: string[];
  processes: string[];
}

/** The cgroups below parent in every hierarchy: /sys/fs/cgroup/<hierarchy>/parent (v1, hybrid) and /sys/fs/cgroup/parent (pure cgroup2). */
function cgroupDirs(parent: string): string[] {
  const found: string[] = [];
  const root = '/sys/fs/cgroup';
  for (const hierarchy of ['.', ...(existsSync(root) ? readdirSync(root) : [])]) {
    const dir = join(root, hierarchy, parent);
    if (existsSync(dir))
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) found.push(join(hierarchy, parent, entry.name));
  }
  return found.sort();
}

/** Processes whose command line mentions the marker (a string unique to the test). */
function markedProcesses(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker) && Number(pid) !== process.pid) found.push(`${pid} ${cmdline.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found.sort();
}

/** Network namespaces that tests make are named with this prefix (pinned under /run/netns). */
export const TEST_NETNS_PREFIX = 'nsbt-';

/**
 * A mount that belongs to another test running at the same time: under a test temp dir, or a
 * test network namespace pinned in /run/netns, that is not one of ours. Only when the caller
 * names its own dirs; otherwise every mount counts.
 */
function isOtherTestsMount(mountPoint: string, ownDirs: string[] | undefined): boolean {
  if (!ownDirs) return false;
  const testOwned = mountPoint.startsWith(join(tmpdir(), TEST_PREFIX)) || mountPoint.startsWith(`/run/netns/${TEST_NETNS_PREFIX}`);
  return testOwned && !ownDirs.some((dir) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

/**
 * ownDirs: the test's own temp dirs. Mounts under other tests' temp dirs are then left out,
 * so that a suite run beside this one (a second checkout's tests) does not fail it.
 */
export function snapshotHost(options: { cgroupParent: string; marker: string; ownDirs?: string[] }): HostSnapshot {
  return {
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ').slice(3, 5))
      .filter(([root, mountPoint]) => root && mountPoint && !isOtherTestsMount(mountPoint, options.ownDirs))
      .map((fields) => fields.join(' '))
      .sort(),
    cgroups: cgroupDirs(options.cgroupParent),
    processes: markedProcesses(options.marker),
  };
}
