/** What a panel wants to know about the host: kernel, features found, cgroup layout, storage. */

import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { arch, version as kernelVersion, release } from 'node:os';
import type { Box } from '@nsbox/core';
import type { CgroupDriver } from '@nsbox/runtime';

export interface StoragePool {
  name: string;
  path: string;
  filesystem: string;
  sizeBytes: number;
  freeBytes: number;
  /** The plugin that keeps the pool (limits' disk-image pools), when not the state dir. */
  plugin?: string;
  [fact: string]: unknown;
}

/** What a plugin that publishes a `pools` service lists (the limits plugin's disk pools). */
export interface PluginPool {
  name: string;
  path: string;
  [fact: string]: unknown;
}

export interface HostInfo {
  kernel: { release: string; version: string; arch: string };
  features: Record<string, boolean | string[]>;
  cgroups: { layout: string; parent: string; v1: Record<string, string>; unified: string | null; unifiedControllers: string[] };
  storage: StoragePool[];
  boxes: Record<string, number>;
}

const FILESYSTEMS: Record<number, string> = {
  61267: 'ext4',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  16914836: 'tmpfs',
  2035054128: 'overlayfs',
  801189825: 'zfs',
};

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function kernelFeatures(): HostInfo['features'] {
  const namespaces = existsSync('/proc/self/ns') ? readdirSync('/proc/self/ns').filter((name) => !name.endsWith('_for_children')) : [];
  const filesystems = readText('/proc/filesystems') ?? '';
  return {
    namespaces,
    userNamespaces: Number(readText('/proc/sys/user/max_user_namespaces') ?? '0') > 0,
    timeNamespace: namespaces.includes('time'),
    cgroupNamespace: namespaces.includes('cgroup'),
    seccomp: existsSync('/proc/sys/kernel/seccomp/actions_avail'),
    seccompActions: (readText('/proc/sys/kernel/seccomp/actions_avail') ?? '').trim().split(/\s+/).filter(Boolean),
    overlayfs: /\toverlay$/m.test(filesystems),
    cgroup2: /\tcgroup2$/m.test(filesystems),
    checkpointRestore: existsSync('/proc/sys/kernel/ns_last_pid'),
    pidfd: true,
  };
}

function pool(name: string, path: string): StoragePool | undefined {
  try {
    const stats = statfsSync(path);
    return {
      name,
      path,
      filesystem: FILESYSTEMS[stats.type] ?? `0x${stats.type.toString(16)}`,
      sizeBytes: stats.blocks * stats.bsize,
      freeBytes: stats.bavail * stats.bsize,
    };
  } catch {
    return undefined;
  }
}

export function hostInfo(input: { stateDir: string; cgroups: CgroupDriver; boxes: Box[]; pluginPools?: { plugin: string; pools: PluginPool[] }[] }): HostInfo {
  const layout = input.cgroups.layout;
  const boxes: Record<string, number> = { total: input.boxes.length };
  for (const box of input.boxes) boxes[box.state] = (boxes[box.state] ?? 0) + 1;
  return {
    kernel: { release: release(), version: kernelVersion(), arch: arch() },
    features: kernelFeatures(),
    cgroups: {
      layout: layout.kind,
      parent: input.cgroups.parent,
      v1: layout.v1,
      unified: layout.unified ?? null,
      unifiedControllers: layout.unifiedControllers,
    },
    // The state directory holds box root filesystems; storage plugins add pools of their own.
    storage: [
      pool('state', input.stateDir),
      ...(input.pluginPools ?? []).flatMap(({ plugin, pools }) =>
        pools.map((entry) => {
          const found = pool(entry.name, entry.path);
          return found ? { ...entry, ...found, plugin } : undefined;
        }),
      ),
    ].filter((entry): entry is StoragePool => entry !== undefined),
    boxes,
  };
}
