/**
 * What this plugin uses of the runtime, as the runtime publishes it to plugins
 * (RuntimeTokens in @nsbox/runtime). Declared here by shape, as a third-party plugin would,
 * so that the plugin imports nothing but @nsbox/core.
 */

/** RuntimeTokens.CgroupDriver: a Symbol.for key, the same in every copy of the runtime. */
export const CGROUP_DRIVER = Symbol.for('nsbox.runtime.cgroupDriver');

export interface CgroupAccess {
  readonly layout: {
    kind: 'v1' | 'v2' | 'hybrid';
    /** v1 controller → mount point */
    v1: Record<string, string>;
    /** the cgroup2 mount, when the host has one */
    unified?: string;
  };
  create(name: string): { unifiedDir?: string; v1Dirs: Record<string, string> };
  get(name: string): { unifiedDir?: string; v1Dirs: Record<string, string> } | undefined;
  pids(name: string): number[];
  remove(name: string): Promise<void>;
  write(name: string, controller: string, file: string, value: string): void;
}
