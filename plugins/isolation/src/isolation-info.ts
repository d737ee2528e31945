/**
 * The `isolation` section of `nsbox info` (its box-info contribution): the box's uid and gid ranges, how many processes it runs, and the policy its
 * running spec carries.
 */

import { type Box, inject, injectable, type OciSpec, optional } from '@nsbox/core';
import { type CgroupDriver, runtimeRefs } from '@nsbox/runtime-api';
import { IsolationTokens } from './tokens.js';
import type { UidAllocator } from './uid-allocator.js';

@injectable()
export class IsolationInfo {
  constructor(
    @inject(IsolationTokens.UidAllocator) private readonly allocator: UidAllocator,
    @inject(runtimeRefs.cgroups.token) @optional() private readonly cgroups?: CgroupDriver,
  ) {}

  describe(box: Box): Record<string, unknown> {
    const ranges = this.allocator.find(box.id);
    const spec = box.runtime.spec as OciSpec | undefined;
    const span = (range: { hostID: number; size: number }) => `${range.hostID}-${range.hostID + range.size - 1}`;
    const running = box.state === 'running' || box.state === 'paused';
    const devices = (spec?.linux.resources as { devices?: { allow: boolean }[] } | undefined)?.devices;
    return {
      ...(ranges ? { uidRange: span(ranges.uid), gidRange: span(ranges.gid) } : { uidRange: 'none (privileged, explicit maps, or not started yet)' }),
      ...(running && this.cgroups?.get(box.id) ? { processes: this.cgroups.pids(box.id).length } : {}),
      ...(spec
        ? {
            userNamespace: spec.linux.namespaces.some((namespace) => namespace.type === 'user'),
            seccomp: spec.linux.seccomp ? `allowlist of ${spec.linux.seccomp.syscalls?.[0]?.names.length ?? 0} syscalls, others EPERM` : 'unconfined',
            deviceRules: devices?.length ?? 0,
            network: spec.linux.namespaces.some((namespace) => namespace.type === 'network') ? 'private' : 'host',
          }
        : {}),
    };
  }
}
