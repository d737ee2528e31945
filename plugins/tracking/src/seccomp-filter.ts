/**
 * What tracking asks of a box's seccomp filter: the kernel logs each syscall the filter denies
 * with the default action's errno. The launcher's NSBOX_SECCOMP_LOG_DENIALS is
 * SECCOMP_FILTER_FLAG_LOG for the denials only (`errno` is in the host's
 * /proc/sys/kernel/seccomp/actions_logged by default, which nsbox reads and never writes):
 * the rules answering an errno of their own (isolation's ENOSYS for clone3, which glibc meets
 * at every thread it starts; network's for socketcall) answer from a second, unlogged filter.
 * A filter with the kernel's flag alone logs those too: their syscalls are then the box's
 * `expected` ones, whose records are not denials.
 */

import type { OciSpec } from '@nsbox/core';

const LOG_DENIALS = 'NSBOX_SECCOMP_LOG_DENIALS';
const LOG = 'SECCOMP_FILTER_FLAG_LOG';

type Seccomp = NonNullable<OciSpec['linux']['seccomp']> & { flags?: string[] };

/** Adds the flag to the box's filter; a box without a filter (unconfined) has nothing to log. */
export function logDenials(spec: OciSpec): void {
  const seccomp = spec.linux.seccomp as Seccomp | undefined;
  if (!seccomp || seccomp.defaultAction === 'SCMP_ACT_ALLOW' || seccomp.defaultAction === 'SCMP_ACT_LOG') return;
  if (!logsDenials(seccomp)) seccomp.flags = [...(seccomp.flags ?? []), LOG_DENIALS];
}

/** Whether the filter logs its denials (either flag). */
export function logsDenials(seccomp: OciSpec['linux']['seccomp'] | undefined): boolean {
  const flags = (seccomp as Seccomp | undefined)?.flags ?? [];
  return flags.includes(LOG_DENIALS) || flags.includes(LOG);
}

/**
 * The syscalls the filter answers, in every case, with an errno of a rule's own rather than
 * the default's denial: not denials but the answer the profile chose (ENOSYS for clone3).
 */
export function expectedErrnoSyscalls(seccomp: OciSpec['linux']['seccomp'] | undefined): Set<string> {
  const names = new Set<string>();
  if (!seccomp) return names;
  for (const rule of seccomp.syscalls ?? []) {
    const errno = rule.action === 'SCMP_ACT_ERRNO' && (rule.args ?? []).length === 0 ? (rule.errnoRet ?? 1) : undefined;
    if (errno !== undefined && errno !== (seccomp.defaultErrnoRet ?? 1)) for (const name of rule.names) names.add(name);
  }
  return names;
}
