/**
 * Lets a box's `reboot`, `halt` and `poweroff` reach the kernel: CAP_SYS_BOOT in the box's
 * own user namespace and `reboot` in its seccomp filter. reboot(2) in a pid namespace other
 * than the host's does not reboot anything: it ends that namespace's init with SIGHUP
 * (restart) or SIGINT (halt, power off), which the shim records and the core's exit policy
 * acts on (FEATURES 3g). kexec_load needs CAP_SYS_BOOT in the host's user namespace, which a
 * user-namespaced box never has, and no profile allows it.
 *
 * Only for a box with its own pid and user namespaces: a privileged box's CAP_SYS_BOOT would
 * be the host's (its config may still add it). An explicit drop of the capability or deny of
 * the syscall in the box's config wins. Applied once every plugin edited the spec (prepare),
 * so it sees the final namespaces and filter whatever order the plugins ran in.
 */

import type { BoxConfig, OciSpec } from '@nsbox/core';

const CAP = 'CAP_SYS_BOOT';

/** What the box's own config says against it (isolation's fields, read as data). */
function refusedByConfig(config: BoxConfig): boolean {
  const isolation = config.isolation as { capabilities?: { drop?: string[] }; seccomp?: { deny?: string[] } } | undefined;
  const dropped = (isolation?.capabilities?.drop ?? []).map((cap) => cap.toUpperCase().replace(/^(CAP_)?/, 'CAP_'));
  return dropped.includes(CAP) || dropped.includes('CAP_ALL') || (isolation?.seccomp?.deny ?? []).includes('reboot');
}

/** Whether the box may reboot from inside; true when its spec was changed to let it. */
export function allowRebootFromInside(spec: OciSpec, config: BoxConfig): boolean {
  const has = (type: string) => spec.linux.namespaces.some((namespace) => namespace.type === type && !namespace.path);
  if (!has('pid') || !has('user') || refusedByConfig(config)) return false;
  const caps = spec.process.capabilities;
  if (caps) {
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      const list = caps[set] ?? [];
      if (!list.includes(CAP)) caps[set] = [...list, CAP];
    }
  }
  const seccomp = spec.linux.seccomp;
  if (seccomp && !seccomp.syscalls?.some((rule) => rule.action === 'SCMP_ACT_ALLOW' && rule.names.includes('reboot') && !rule.args?.length)) {
    seccomp.syscalls = [...(seccomp.syscalls ?? []), { names: ['reboot'], action: 'SCMP_ACT_ALLOW' }];
  }
  return true;
}
