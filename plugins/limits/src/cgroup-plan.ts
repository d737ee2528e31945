/**
 * The cgroup files that enforce a `limits` section, for v1 and v2 controllers alike. Pure:
 * the caller says which flavour each controller has on this host (a hybrid host may mix
 * them) and what it found in the box's cgroup; the result is the list of writes.
 *
 * A field left out is written back to "no limit", so applying a section is idempotent and
 * an update never needs the previous one. Writes for fields the user set are `required`:
 * a host that cannot do them refuses the limit instead of ignoring it.
 */

import type { IoLimit, LimitsConfig } from './config-schema.js';

export type Flavor = 'v1' | 'v2';
export type LimitController = 'cpu' | 'cpuset' | 'memory' | 'pids' | 'io';

export interface CgroupWrite {
  /** The config field this write enforces (named in errors). */
  field: string;
  /** Controller as the cgroup driver names it on this flavour (blkio on v1, io on v2). */
  controller: string;
  file: string;
  value: string;
  required: boolean;
}

/** What the planner needs to know about the host and the box's current cgroup. */
export interface PlanContext {
  flavor(controller: LimitController): Flavor | undefined;
  /**
   * The cpuset of a box that sets none: v1 cpusets start empty and must hold a value (the
   * parent's); on v2 the CPUs online (emptying a populated box's cpuset fails on Linux 6.1).
   */
  parentCpus: string;
  parentMems: string;
  /** io devices resolved to 'major:minor'. */
  devices: Map<string, string>;
  /** 'major:minor' of devices with a throttle set now, per v1 file or v2 io.max. */
  throttled: Map<string, Set<string>>;
  /** The admin's pids limit for a box whose section sets none (null or absent: none). */
  defaultPids?: number | null;
}

export const CFS_PERIOD_US = 100_000;
const V1_UNLIMITED = '-1';

/** cgroup v2 weight (1-10000, default 100) to v1 shares (default 1024), as systemd maps CPUWeight. */
export function weightToShares(weight: number): number {
  return Math.min(262_144, Math.max(2, Math.round((weight * 1024) / 100)));
}

export function sharesToWeight(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round((shares * 100) / 1024)));
}

export const v1IoFiles = {
  readBps: 'blkio.throttle.read_bps_device',
  writeBps: 'blkio.throttle.write_bps_device',
  readIops: 'blkio.throttle.read_iops_device',
  writeIops: 'blkio.throttle.write_iops_device',
} as const;

const v2IoKeys = { readBps: 'rbps', writeBps: 'wbps', readIops: 'riops', writeIops: 'wiops' } as const;

export function planCgroupWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  return [
    ...cpuWrites(config, context),
    ...cpusetWrites(config, context),
    ...memoryWrites(config, context),
    ...pidsWrites(config, context),
    ...ioWrites(config, context),
  ];
}

function cpuWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  const flavor = context.flavor('cpu');
  const quota = config.cpus === undefined ? undefined : Math.round(config.cpus * CFS_PERIOD_US);
  const cpusRequired = config.cpus !== undefined;
  const weightRequired = config.cpuWeight !== undefined;
  if (flavor === 'v2') {
    return [
      { field: 'cpus', controller: 'cpu', file: 'cpu.max', value: `${quota ?? 'max'} ${CFS_PERIOD_US}`, required: cpusRequired },
      { field: 'cpuWeight', controller: 'cpu', file: 'cpu.weight', value: String(config.cpuWeight ?? 100), required: weightRequired },
    ];
  }
  const controller = 'cpu';
  return [
    { field: 'cpus', controller, file: 'cpu.cfs_period_us', value: String(CFS_PERIOD_US), required: cpusRequired },
    { field: 'cpus', controller, file: 'cpu.cfs_quota_us', value: quota === undefined ? V1_UNLIMITED : String(quota), required: cpusRequired },
    {
      field: 'cpuWeight',
      controller,
      file: 'cpu.shares',
      value: String(config.cpuWeight === undefined ? 1024 : weightToShares(config.cpuWeight)),
      required: weightRequired,
    },
  ];
}

function cpusetWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  // Without a cpuset of its own, the box gets the one the context names for it (parentCpus).
  return [
    { field: 'cpuset', controller: 'cpuset', file: 'cpuset.cpus', value: config.cpuset ?? context.parentCpus, required: config.cpuset !== undefined },
    {
      field: 'cpusetMems',
      controller: 'cpuset',
      file: 'cpuset.mems',
      value: config.cpusetMems ?? context.parentMems,
      required: config.cpusetMems !== undefined,
    },
  ];
}

/**
 * Swap is on top of memory, and none when the section limits memory without saying how much
 * swap: a box held to 64M must not page the rest of what it allocates out to the host's swap
 * (which it would, unbounded, on a host that has swap). No memory limit: no swap limit either.
 */
function swapOnTop(config: LimitsConfig): number | undefined {
  if (config.swap !== undefined) return config.swap;
  return config.memory === undefined ? undefined : 0;
}

function memoryWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  const memory = config.memory;
  const swap = swapOnTop(config);
  if (context.flavor('memory') === 'v2') {
    return [
      { field: 'memory', controller: 'memory', file: 'memory.max', value: memory === undefined ? 'max' : String(memory), required: memory !== undefined },
      {
        field: 'memoryHigh',
        controller: 'memory',
        file: 'memory.high',
        value: config.memoryHigh === undefined ? 'max' : String(config.memoryHigh),
        required: config.memoryHigh !== undefined,
      },
      { field: 'swap', controller: 'memory', file: 'memory.swap.max', value: swap === undefined ? 'max' : String(swap), required: config.swap !== undefined },
    ];
  }
  // v1 counts swap together with memory (memsw = memory + swap), and memsw ≥ memory always.
  const memsw = swap === undefined || memory === undefined ? V1_UNLIMITED : String(memory + swap);
  return [
    {
      field: 'memory',
      controller: 'memory',
      file: 'memory.limit_in_bytes',
      value: memory === undefined ? V1_UNLIMITED : String(memory),
      required: memory !== undefined,
    },
    {
      field: 'memoryHigh',
      controller: 'memory',
      file: 'memory.soft_limit_in_bytes',
      value: config.memoryHigh === undefined ? V1_UNLIMITED : String(config.memoryHigh),
      required: config.memoryHigh !== undefined,
    },
    { field: 'swap', controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: memsw, required: config.swap !== undefined },
  ];
}

function pidsWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  // The host's default is not `required`: a host without a pids controller still runs boxes.
  const pids = config.pids ?? context.defaultPids ?? undefined;
  return [{ field: 'pids', controller: 'pids', file: 'pids.max', value: pids === undefined ? 'max' : String(pids), required: config.pids !== undefined }];
}

function ioWrites(config: LimitsConfig, context: PlanContext): CgroupWrite[] {
  const entries = (config.io ?? []).map((entry, index) => ({ entry, index, device: context.devices.get(entry.device) }));
  const writes: CgroupWrite[] = [];
  if (context.flavor('io') === 'v2') {
    const wanted = new Set<string>();
    for (const { entry, index, device } of entries) {
      if (device === undefined) continue;
      wanted.add(device);
      const settings = (Object.keys(v2IoKeys) as (keyof typeof v2IoKeys)[]).map((key) => `${v2IoKeys[key]}=${entry[key] ?? 'max'}`);
      writes.push({ field: `io[${index}]`, controller: 'io', file: 'io.max', value: `${device} ${settings.join(' ')}`, required: true });
    }
    for (const device of context.throttled.get('io.max') ?? []) {
      if (!wanted.has(device))
        writes.push({ field: 'io', controller: 'io', file: 'io.max', value: `${device} rbps=max wbps=max riops=max wiops=max`, required: false });
    }
    return writes;
  }
  for (const [key, file] of Object.entries(v1IoFiles) as [keyof typeof v1IoFiles, string][]) {
    const wanted = new Set<string>();
    for (const { entry, index, device } of entries) {
      const value = (entry as IoLimit)[key];
      if (device === undefined || value === undefined) continue;
      wanted.add(device);
      writes.push({ field: `io[${index}].${key}`, controller: 'blkio', file, value: `${device} ${value}`, required: true });
    }
    // v1 removes a device's throttle when 0 is written for it.
    for (const device of context.throttled.get(file) ?? []) {
      if (!wanted.has(device)) writes.push({ field: 'io', controller: 'blkio', file, value: `${device} 0`, required: false });
    }
  }
  return writes;
}

/** Devices named in a v1 throttle file or v2 io.max ('7:0 4194304' / '7:0 rbps=max wbps=...'). */
export function throttledDevices(text: string): Set<string> {
  const devices = new Set<string>();
  for (const line of text.split('\n')) {
    const [device, ...rest] = line.trim().split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) continue;
    // io.max keeps a line with every key at max only briefly; a line of maxes is no throttle.
    if (rest.length > 0 && rest.every((field) => field.endsWith('=max'))) continue;
    devices.add(device);
  }
  return devices;
}
