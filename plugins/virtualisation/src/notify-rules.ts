/** The syscalls this plugin has answered for a box, as runtime-api notify rules. */

import { kernelQuotaProblem, type NotifyRule } from '@nsbox/runtime-api';
import type { VirtualisationConfig } from './config-schema.js';

/** Why a box's quotactl is refused on a host whose kernel keeps no quotas (written to the box's shim.log). */
export function quotaReason(problem: string): string {
  return `quotas inside a box are not served by this host: ${problem}`;
}

/** `kernel.quotaProblem`: why this kernel keeps no quotas on a box's image (undefined: it does). */
export function notifyRulesFor(
  config: VirtualisationConfig,
  kernel: { quotaProblem: string | undefined } = { quotaProblem: kernelQuotaProblem() },
): NotifyRule[] {
  const { quotaProblem } = kernel;
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
  // quotactl inside the box: served on the box's own disk image (the runtime names it; a box
  // without one is refused with that reason), or, on a kernel without quotas, refused by
  // nsbox with its reason, not by the seccomp profile (EPERM reads as a missing privilege).
  if (config.quota) {
    for (const syscall of ['quotactl', 'quotactl_fd'] as const)
      rules.push({ syscall, handler: syscall, params: quotaProblem === undefined ? {} : { reason: quotaReason(quotaProblem) } });
  }
  return rules;
}
