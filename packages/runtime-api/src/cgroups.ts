/** The box cgroups as the runtime offers them to plugins, on v1, v2 and hybrid hosts alike. */

export type CgroupLayoutKind = 'v1' | 'v2' | 'hybrid';

export interface CgroupLayout {
  kind: CgroupLayoutKind;
  /** v1 controller name → mount point (v1 and hybrid), e.g. memory → /sys/fs/cgroup/memory. Co-mounted controllers (cpu,cpuacct) map to the same path. */
  v1: Record<string, string>;
  /** cgroup2 mount point: /sys/fs/cgroup (v2) or /sys/fs/cgroup/unified (hybrid). */
  unified?: string;
  /** Controllers available on the cgroup2 mount (its cgroup.controllers). */
  unifiedControllers: string[];
}

export interface BoxCgroup {
  /** The box's cgroup name (a leaf under the parent). */
  name: string;
  /** Every cgroup.procs file a process must be written into to be fully in the box's cgroup (one per v1 hierarchy we use, plus the unified one). */
  procsFiles: string[];
  /** The unified (cgroup2) directory of the box, if the host has a cgroup2 mount. */
  unifiedDir?: string;
  /** v1 controller → directory of the box in that hierarchy. */
  v1Dirs: Record<string, string>;
  /**
   * cgroup2 files of the box that live outside unifiedDir, file name → directory: under the
   * systemd driver the knobs that weigh a box against others (cpu.weight, io.weight,
   * memory.low...) are its scope's, one level above. Read them there.
   */
  fileDirs?: Record<string, string>;
}

export interface KillOptions {
  /** How long to wait for every process to be gone (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * The one owner of box cgroups (the runtime). Plugins read and write controller files of a
 * box's cgroup through it; they never make or remove cgroups of their own.
 */
export interface CgroupDriver {
  readonly layout: CgroupLayout;
  /** The cgroup path all boxes live under, e.g. 'nsbox'; every level of it is ours. */
  readonly parent: string;
  /** Idempotent; also completes a box a crash left half-created. */
  create(name: string): BoxCgroup;
  /** undefined when the box's cgroup does not exist in every hierarchy we use. */
  get(name: string): BoxCgroup | undefined;
  /** Whether any part of the box's cgroup exists (a half-created one too): one stat per hierarchy, not a listing. */
  exists(name: string): boolean;
  /** Names under the parent, including half-created ones so that they can be removed. */
  list(): string[];
  /** Every process in the box's cgroup and below it (union over hierarchies); [] when missing. */
  pids(name: string): number[];
  isPopulated(name: string): boolean;
  freeze(name: string): Promise<void>;
  thaw(name: string): Promise<void>;
  /** SIGKILL everything and wait until empty; a missing box is already empty. */
  kill(name: string, options?: KillOptions): Promise<void>;
  /** kill, then rmdir in every hierarchy (deepest first); idempotent. The parent stays: the next box reuses it. */
  remove(name: string, options?: KillOptions): Promise<void>;
  /** rmdir the parent levels that hold no box (tests, uninstall). */
  removeParent(): void;
  /** A controller file, e.g. ('memory', 'memory.limit_in_bytes') on v1 or ('memory', 'memory.max') on v2. E_UNSUPPORTED when the host lacks the controller. */
  read(name: string, controller: string, file: string): string;
  write(name: string, controller: string, file: string, value: string): void;
}
