/**
 * What tracking asks of a box's seccomp filter: the kernel logs each syscall the filter
 * answers with an errno (SECCOMP_FILTER_FLAG_LOG; `errno` is in the host's
 * /proc/sys/kernel/seccomp/actions_logged by default, which nsbox reads and never writes).
 * The flag logs every errno answer, the profile's deliberate ones too (isolation's ENOSYS for
 * clone3, which makes glibc fall back to clone; network's for socketcall): those syscalls are
 * the box's `expected` ones, whose records are not denials.
 */

import type { OciSpec } from '@nsbox/core';

const LOG = 'SECCOMP_FILTER_FLAG_LOG';

type Seccomp = NonNullable<OciSpec['linux']['seccomp']> & { flags?: string[] };

/** Adds the flag to the box's filter; a box without a filter (unconfined) has nothing to log. */
export function logDenials(spec: OciSpec): void {
  const seccomp = spec.linux.seccomp as Seccomp | undefined;
  if (!seccomp || seccomp.defaultAction === 'SCMP_ACT_ALLOW' || seccomp.defaultAction === 'SCMP_ACT_LOG') return;
  if (!seccomp.flags?.includes(LOG)) seccomp.flags = [...(seccomp.flags ?? []), LOG];
}

/** Whether the filter logs (the flag is set). */
export function logsDenials(seccomp: OciSpec['linux']['seccomp'] | undefined): boolean {
  return (seccomp as Seccomp | undefined)?.flags?.includes(LOG) ?? false;
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
