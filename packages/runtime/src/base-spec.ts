/**
 * The OCI spec every box starts from, before plugins edit it: the box's rootfs and init,
 * its own pid/mount/uts/ipc/cgroup/network namespaces, a private /proc, a minimal /dev and
 * the defaults runc and Docker use for capabilities and masked paths.
 */

import type { Box, OciMount, OciSpec } from '@nsbox/core';
import { defaultMaskedPaths, defaultReadonlyPaths } from '@nsbox/runtime-api';
import { defaultCapabilities } from './capabilities.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export { defaultMaskedPaths, defaultReadonlyPaths };

export const defaultMounts: OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

export function boxEnvironment(box: Pick<Box, 'name' | 'config'>): string[] {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOME: '/root',
    TERM: 'xterm',
    container: 'nsbox',
    ...(box.config.process?.env ?? {}),
  };
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

export function buildBaseSpec(
  box: Pick<Box, 'name' | 'config'>,
  rootfs: string,
  image?: { cmd?: string[]; entrypoint?: string[]; workingDir?: string },
): OciSpec {
  const process = box.config.process ?? {};
  const imageArgs = [...(image?.entrypoint ?? []), ...(image?.cmd ?? [])];
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: process.terminal ?? false,
      user: process.user ?? { uid: 0, gid: 0 },
      args: process.args ?? (imageArgs.length > 0 ? imageArgs : ['/sbin/init']),
      env: boxEnvironment(box),
      cwd: process.cwd ?? image?.workingDir ?? '/',
      capabilities: {
        bounding: [...defaultCapabilities],
        effective: [...defaultCapabilities],
        permitted: [...defaultCapabilities],
      },
      rlimits: [],
      noNewPrivileges: false,
    },
    root: { path: rootfs, readonly: false },
    hostname: box.config.hostname ?? box.name,
    mounts: defaultMounts.map((mount) => ({ ...mount, options: [...(mount.options ?? [])] })),
    annotations: { ...(box.config.annotations ?? {}) },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'cgroup' }, { type: 'network' }],
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
      rootfsPropagation: 'private',
    },
  };
}
