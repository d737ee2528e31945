/** `features`: what this runtime implements, in the runtime-spec's features.json shape. */

import { allCapabilities, detectCgroupLayout, recursiveMountAttributes } from '@nsbox/runtime';
import { systemdCgroupSupported } from '../box/cgroup-paths.js';
import { OCI_VERSION } from '../box/oci-state.js';
import { HOOK_NAMES, SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '../bundle/spec-support.js';
import { type CommandContext, stdout } from './context.js';

const MOUNT_OPTIONS = [
  'async',
  'atime',
  'bind',
  'defaults',
  'dev',
  'diratime',
  'dirsync',
  'exec',
  'lazytime',
  'mand',
  'noatime',
  'nodev',
  'nodiratime',
  'noexec',
  'nolazytime',
  'nomand',
  'norelatime',
  'nostrictatime',
  'nosuid',
  'nosymfollow',
  'private',
  'rbind',
  'relatime',
  'ro',
  'rprivate',
  'rro',
  'rshared',
  'rslave',
  'rw',
  'shared',
  'slave',
  'strictatime',
  'suid',
  'symfollow',
  'sync',
  'tmpcopyup',
  'notmpcopyup',
  'idmap',
  'ridmap',
  'unbindable',
  'runbindable',
  // The recursive attributes, from the compiler that applies them ('rro' is listed above).
  ...recursiveMountAttributes.filter((attribute) => attribute !== 'rro'),
];

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: allCapabilities,
      cgroup: { v1: true, v2: true, systemd: systemdCgroupSupported(detectCgroupLayout()), systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: [...SECCOMP_FLAGS],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
    },
    annotations: { 'org.nsbox.runtime': 'nsbox-runc', 'org.nsbox.oci.launcher': 'nsbox-launcher' },
  };
}

export function showFeatures(context: CommandContext): void {
  stdout(context, `${JSON.stringify(features(), null, 2)}\n`);
}
