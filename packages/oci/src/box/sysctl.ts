/**
 * `linux.sysctl`, written from the host into the box's namespaces while its init waits in the
 * init helper (before the user's process runs, as runc does).
 *
 * Why not the launcher's `sysctl` op: the compiler emits it after `readonly /proc/sys`
 * (config.json's readonlyPaths), so every write fails with EROFS. /proc/sys/net and the IPC
 * keys resolve against the namespaces of the process that opens them, so a write from a
 * process that joined the box's net or ipc namespace lands in the box. Keys that are not
 * namespaced are refused, as runc refuses them.
 */

import { execFileSync } from 'node:child_process';
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

/** Checks every key before anything runs; returns the namespaces each one needs. */
export function planSysctls(sysctl: Record<string, string> | undefined, namespaces: readonly string[]): [string, string, Namespace][] {
  return Object.entries(sysctl ?? {}).map(([key, value]) => {
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
    return [key, value, ns];
  });
}

export function applySysctls(pid: number, plan: [string, string, Namespace][]): void {
  for (const [key, value, ns] of plan) {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    try {
      execFileSync('nsenter', [`--target=${pid}`, `--${ns}`, '--', '/bin/sh', '-c', 'printf "%s" "$1" > "$2"', 'sysctl', value, path], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
      throw new NsboxError('E_RUNTIME', `linux.sysctl.${key}: write ${path}: ${stderr || (error as Error).message}`, {
        details: { field: `linux.sysctl.${key}` },
      });
    }
  }
}
