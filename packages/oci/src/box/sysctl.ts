/**
 * `linux.sysctl` is checked here and written by the launcher's `sysctl` op inside the box,
 * before /proc/sys turns read-only. Only keys of a namespace the box has of its own are
 * accepted; a key that is not namespaced would change the host, and is refused as runc
 * refuses it.
 */

import { NsboxError } from '@nsbox/core';

const IPC_KEYS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

type Namespace = 'net' | 'ipc' | 'uts';

export function sysctlNamespace(key: string): Namespace {
  if (key.startsWith('net.')) return 'net';
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  throw new NsboxError('E_UNSUPPORTED', `linux.sysctl.${key} is not supported: it is not in a separate kernel namespace (it would change the host)`, {
    details: { field: `linux.sysctl.${key}` },
  });
}

/**
 * Checks every key before anything runs: a sysctl name, of a namespace the box has of its
 * own. As runc and crun, kernel.hostname is refused (the `hostname` field says it), and a
 * kernel.domainname that says otherwise than `domainname`.
 */
export function checkSysctls(sysctl: Record<string, string> | undefined, namespaces: readonly string[], domainname?: string): void {
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    if (key === 'kernel.hostname') {
      throw new NsboxError('E_INVALID_CONFIG', 'linux.sysctl.kernel.hostname: set the hostname with the `hostname` field', {
        details: { field: 'linux.sysctl.kernel.hostname' },
      });
    }
    if (key === 'kernel.domainname' && domainname !== undefined && domainname !== '' && value !== domainname) {
      throw new NsboxError('E_INVALID_CONFIG', `linux.sysctl.kernel.domainname '${value}' conflicts with domainname '${domainname}'`, {
        details: { field: 'linux.sysctl.kernel.domainname' },
      });
    }
    if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) {
      throw new NsboxError('E_INVALID_CONFIG', `linux.sysctl: '${key}' is not a sysctl name`, { details: { field: `linux.sysctl.${key}` } });
    }
    const ns = sysctlNamespace(key);
    const type = ns === 'net' ? 'network' : ns;
    if (!namespaces.includes(type)) {
      throw new NsboxError('E_INVALID_CONFIG', `linux.sysctl.${key} needs a ${type} namespace of the box's own (it would change the host's)`, {
        details: { field: `linux.sysctl.${key}` },
      });
    }
  }
}
