/** The `virtualisation` section of `nsbox info`: what the box is shown of its machine. */

import type { Box } from '@nsbox/core';
import { type VirtualisationConfig, virtualisationConfigSchema } from './config-schema.js';
import { shownKernel } from './identity/kernel-strings.js';
import { describePower } from './power-info.js';

export function describeVirtualisation(box: Pick<Box, 'name' | 'config' | 'runtime'>): Record<string, unknown> {
  const config: VirtualisationConfig = virtualisationConfigSchema.parse(box.config.virtualisation ?? {});
  return {
    // As the box's UTS namespace has them (set at start, and live by `nsbox set`).
    hostname: box.config.hostname ?? box.name,
    domainname: config.domainname ?? null,
    kernel: shownKernel(box.config.virtualisation) ?? "the host's",
    sysinfo: config.sysinfo ? "the box's own (memory limit and usage, processes, uptime)" : "the host's",
    clocks: config.timeNamespace
      ? "monotonic and boottime from the box's start (time namespace); realtime is the host's: Linux has no per-box realtime clock (setting it from the box fails with EPERM)"
      : "the host's (no time namespace); realtime cannot be per box on Linux (setting it from the box fails with EPERM)",
    ...describePower(box),
  };
}
