/** Picks the backend for the host's cgroup layout once, as crun picks its cgroup manager. */
import { NsboxError } from '@nsbox/core';
import type { CgroupDriver } from './cgroup-driver.js';
import { HybridDriver } from './hybrid-driver.js';
import { type CgroupLayout, type CgroupLayoutKind, detectCgroupLayout } from './layout.js';
import { busctlAvailable, systemdIsInit } from './systemd-bus.js';
import { SystemdDriver } from './systemd-driver.js';
import { V1_CONTROLLERS, V1Driver } from './v1-driver.js';
import { V2Driver } from './v2-driver.js';

export interface CgroupDriverOptions {
  /** A layout to use instead of detecting one (tests force 'v1' or 'v2' on this host). */
  layout?: CgroupLayout;
  /** The cgroup path boxes live under, default 'nsbox'; every level of it belongs to nsbox. */
  parent?: string;
  /** Filesystem root for detection (tests of detection only). */
  root?: string;
  /**
   * Who makes the boxes' cgroups on a pure cgroup2 host: 'systemd' (a scope per box through
   * its D-Bus API) or 'cgroupfs' (directories under the parent). Default: systemd when it
   * is PID 1 and no layout was forced; NSBOX_CGROUP_MANAGER sets it too.
   */
  manager?: CgroupManagerKind;
}

export type CgroupManagerKind = 'systemd' | 'cgroupfs';

export const DEFAULT_CGROUP_PARENT = 'nsbox';

const backends: Record<CgroupLayoutKind, new (layout: CgroupLayout, parent: string) => CgroupDriver> = {
  v1: V1Driver,
  v2: V2Driver,
  hybrid: HybridDriver,
};

/**
 * A v2 host that also mounts some legacy v1 hierarchy (net_cls for an old tool) is hybrid on
 * paper, but with none of the v1 controllers boxes use it is served by cgroup2 alone.
 */
function backendKind(layout: CgroupLayout): CgroupLayoutKind {
  const usesV1 = V1_CONTROLLERS.some((controller) => layout.v1[controller] !== undefined);
  return layout.kind === 'hybrid' && !usesV1 ? 'v2' : layout.kind;
}

function managerKind(options: CgroupDriverOptions): CgroupManagerKind {
  const asked = options.manager ?? process.env['NSBOX_CGROUP_MANAGER'];
  if (asked === 'systemd' || asked === 'cgroupfs') return asked;
  if (asked !== undefined && asked !== '') {
    throw new NsboxError('E_INVALID_ARGUMENT', `cgroup manager '${asked}' is neither 'systemd' nor 'cgroupfs' (NSBOX_CGROUP_MANAGER)`, {
      details: { manager: asked },
    });
  }
  return options.layout === undefined && systemdIsInit() && busctlAvailable() ? 'systemd' : 'cgroupfs';
}

export function createCgroupDriver(options: CgroupDriverOptions = {}): CgroupDriver {
  const layout = options.layout ?? detectCgroupLayout(undefined, options.root === undefined ? {} : { root: options.root });
  const parent = options.parent ?? DEFAULT_CGROUP_PARENT;
  const kind = backendKind(layout);
  // systemd delegates cgroup2 subtrees only: on a v1 or hybrid host its driver has nothing to offer.
  if (kind === 'v2' && managerKind(options) === 'systemd') return new SystemdDriver(layout, parent);
  return new backends[kind](layout, parent);
}
