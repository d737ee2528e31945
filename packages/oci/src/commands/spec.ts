/** `spec`: writes runc's example config.json into the bundle (a starting point to edit). */

import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { defaultMaskedPaths, defaultReadonlyPaths } from '@nsbox/runtime';
import { OCI_VERSION } from '../box/oci-state.js';
import type { CommandContext } from './context.js';

export function exampleSpec(): Record<string, unknown> {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'nsbox-runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
    },
  };
}

/**
 * The example made for a user namespace, as runc's `spec --rootless` makes it: a user
 * namespace mapping the caller's uid and gid to root, no network namespace of its own, /sys
 * bound from the host (sysfs cannot be mounted without one), no uid=/gid= mount options, no
 * resources.
 */
export function rootlessSpec(uid: number, gid: number): Record<string, unknown> {
  const spec = exampleSpec() as { mounts: { destination: string; options?: string[] }[]; linux: Record<string, unknown> };
  const namespaces = (spec.linux.namespaces as { type: string }[]).filter((namespace) => namespace.type !== 'network' && namespace.type !== 'user');
  spec.linux.namespaces = [...namespaces, { type: 'user' }];
  spec.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  spec.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  spec.mounts = spec.mounts.map((mount) =>
    mount.destination === '/sys'
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { ...mount, ...(mount.options ? { options: mount.options.filter((option) => !/^[ug]id=/.test(option)) } : {}) },
  );
  delete spec.linux.resources;
  return spec;
}

export function writeExampleSpec(context: CommandContext, bundle: string | undefined, rootless: boolean): void {
  const file = join(resolve(context.cwd, bundle ?? '.'), 'config.json');
  if (existsSync(file)) throw new NsboxError('E_ALREADY_EXISTS', 'File config.json exists. Remove it first', { details: { file } });
  // nsbox-runc runs as root: the caller's ids, in the runc sense, are root's.
  const spec = rootless ? rootlessSpec(process.geteuid?.() ?? 0, process.getegid?.() ?? 0) : exampleSpec();
  writeFileSync(file, `${JSON.stringify(spec, null, '\t')}\n`);
}
