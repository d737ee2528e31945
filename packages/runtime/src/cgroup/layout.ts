/**
 * Which cgroup hierarchies this host mounts, read from /proc/self/mountinfo (not guessed from
 * /sys/fs/cgroup's file type: a hybrid host has both kinds side by side).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';

import type { CgroupLayout, CgroupLayoutKind } from '@nsbox/runtime-api';

export type { CgroupLayout, CgroupLayoutKind } from '@nsbox/runtime-api';

export interface DetectOptions {
  /** Prefix for every path read and returned: a fake tree for tests of detection. */
  root?: string;
}

interface MountEntry {
  /** The cgroup path this mount shows ('/' unless it is a bind mount of a sub-cgroup). */
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

// Every controller cgroup v1 has (the set is closed: new controllers are cgroup2-only).
// Matching names, rather than skipping known flags, is immune to options such as seclabel.
const V1_CONTROLLER_NAMES = new Set([
  'cpuset',
  'cpu',
  'cpuacct',
  'blkio',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'perf_event',
  'net_prio',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
  'debug',
]);

// Where the usual init systems mount cgroup2; preferred when more than one mount shows it.
const PREFERRED_UNIFIED_MOUNTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];

/** mountinfo escapes space, tab, newline and backslash in paths as octal (\040). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The cgroup and cgroup2 lines of a mountinfo text (proc(5) describes the format). */
export function parseCgroupMounts(mountinfo: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.trim().split(' ');
    // Optional fields (shared:N, master:N) end at a lone '-'; fs type, source, options follow.
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 4) continue;
    const fsType = fields[separator + 1]!;
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      root: unescapeMountPath(fields[3]!),
      mountPoint: unescapeMountPath(fields[4]!),
      fsType,
      superOptions: fields[separator + 3]!.split(','),
    });
  }
  return mounts;
}

/** A bind mount of a sub-cgroup shows the same hierarchy twice; the whole one wins. */
function wholeHierarchyFirst(mounts: MountEntry[]): MountEntry[] {
  return [...mounts].sort((a, b) => Number(b.root === '/') - Number(a.root === '/'));
}

function v1ControllersOf(mount: MountEntry): string[] {
  // 'name=systemd' and friends are named hierarchies without a controller: not matched.
  return mount.superOptions.filter((option) => V1_CONTROLLER_NAMES.has(option));
}

function chooseUnifiedMount(mounts: MountEntry[]): MountEntry | undefined {
  const unified = wholeHierarchyFirst(mounts.filter((mount) => mount.fsType === 'cgroup2'));
  return unified.find((mount) => PREFERRED_UNIFIED_MOUNTS.includes(mount.mountPoint)) ?? unified[0];
}

function readUnifiedControllers(path: string): string[] {
  try {
    return readFileSync(join(path, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    // An unreadable file means no controller we could use, not a broken host.
    return [];
  }
}

export function detectCgroupLayout(mountinfo?: string, options: DetectOptions = {}): CgroupLayout {
  const root = options.root ?? '/';
  const mounts = parseCgroupMounts(mountinfo ?? readFileSync(join(root, 'proc/self/mountinfo'), 'utf8'));

  const v1: Record<string, string> = {};
  for (const mount of wholeHierarchyFirst(mounts.filter((entry) => entry.fsType === 'cgroup'))) {
    for (const controller of v1ControllersOf(mount)) {
      v1[controller] ??= join(root, mount.mountPoint);
    }
  }

  const unifiedMount = chooseUnifiedMount(mounts);
  const unified = unifiedMount === undefined ? undefined : join(root, unifiedMount.mountPoint);
  const hasV1 = Object.keys(v1).length > 0;
  if (!hasV1 && unified === undefined) {
    throw new NsboxError('E_UNSUPPORTED', 'no cgroup hierarchy is mounted on this host (no cgroup or cgroup2 line in mountinfo)', {
      details: { mounts: mounts.length },
    });
  }

  const kind: CgroupLayoutKind = !hasV1 ? 'v2' : unified === undefined ? 'v1' : 'hybrid';
  const layout: CgroupLayout = { kind, v1, unifiedControllers: unified === undefined ? [] : readUnifiedControllers(unified) };
  if (unified !== undefined) layout.unified = unified;
  return layout;
}
