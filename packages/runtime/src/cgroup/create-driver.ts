/** Picks the backend for the host's cgroup layout once, as crun picks its cgroup manager. */
import type { CgroupDriver } from './cgroup-driver.js';
import { HybridDriver } from './hybrid-driver.js';
import { type CgroupLayout, type CgroupLayoutKind, detectCgroupLayout } from './layout.js';
import { V1_CONTROLLERS, V1Driver } from './v1-driver.js';
import { V2Driver } from './v2-driver.js';

export interface CgroupDriverOptions {
  /** A layout to use instead of detecting one (tests force 'v1' or 'v2' on this host). */
  layout?: CgroupLayout;
  /** The cgroup path boxes live under, default 'nsbox'; every level of it belongs to nsbox. */
  parent?: string;
  /** Filesystem root for detection (tests of detection only). */
  root?: string;
}

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

export function createCgroupDriver(options: CgroupDriverOptions = {}): CgroupDriver {
  const layout = options.layout ?? detectCgroupLayout(undefined, options.root === undefined ? {} : { root: options.root });
  return new backends[backendKind(layout)](layout, options.parent ?? DEFAULT_CGROUP_PARENT);
}
