/** The syscalls this plugin has answered for a box, as runtime-api notify rules. */

import type { NotifyRule } from '@nsbox/runtime-api';
import type { VirtualisationConfig } from './config-schema.js';

/** Why a box's quotactl is refused on this host (written to the box's shim.log). */
export const QUOTA_REASON = "quotas inside a box are not served by this host: its kernel has no quota format, and nsbox's quota proxy runs in the VM lane only";

export function notifyRulesFor(config: VirtualisationConfig): NotifyRule[] {
  const rules: NotifyRule[] = [];
  if (config.kernel) {
    rules.push({
      syscall: 'uname',
      handler: 'uname',
      params: { release: config.kernel.release, ...(config.kernel.version ? { version: config.kernel.version } : {}) },
    });
  }
  if (config.sysinfo) rules.push({ syscall: 'sysinfo', handler: 'sysinfo', params: {} });
  // The box's own kernel log, kept by its views server (the `kmsg` view).
  if (config.kernelLog) rules.push({ syscall: 'syslog', handler: 'syslog', params: {} });
  // quotactl inside the box: refused by nsbox with its reason, not by the seccomp profile
  // (EPERM, which reads as a missing privilege). Serving it needs a proxy onto the box's
  // disk image and a kernel with a quota format (the VM lane).
  if (config.quota) for (const syscall of ['quotactl', 'quotactl_fd'] as const) rules.push({ syscall, handler: syscall, params: { reason: QUOTA_REASON } });
  return rules;
}
