/** The syscalls this plugin has answered for a box, as runtime-api notify rules. */

import type { NotifyRule } from '@nsbox/runtime-api';
import type { VirtualisationConfig } from './config-schema.js';

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
  return rules;
}
