/**
 * What the kernel enforces on a box and what the box uses, read back from its cgroup on
 * whichever flavour serves each controller. A file this host or box lacks is left out
 * rather than guessed.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxCgroup, BoxResources, CgroupDriver, IoThrottle, ResourceEvents, ResourceStats } from '@nsbox/runtime-api';
import { readCgroupFileIfExists } from './cgroup-fs.js';
import { ioCostEnabled } from './io-cost.js';
import type { ResourceHost } from './resource-host.js';
import { CFS_PERIOD_US, RT_PERIOD_US, type ThrottleField } from './resource-knobs.js';
import { blkioToWeight, sharesToWeight, v1ThrottleFiles, v2ThrottleKeys } from './resource-plan.js';
import { keyedValues, parsePressure } from './usage-parse.js';

/** Values at or above this are v1's "no limit" (PAGE_COUNTER_MAX in bytes, rounded to a page). */
const V1_UNLIMITED_FLOOR = 2 ** 62;

/** Huge page sizes the kernel has, as cgroup files name them ('2MB', '1GB'). */
export function hugepageSizes(): string[] {
  let entries: string[];
  try {
    entries = readdirSync('/sys/kernel/mm/hugepages');
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const kb = Number(/^hugepages-(\d+)kB$/.exec(entry)?.[1]);
    if (!kb) return [];
    return [kb >= 1024 * 1024 ? `${kb / (1024 * 1024)}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`];
  });
}

function field(text: string | undefined, key: string): number | undefined {
  return keyedValues(text).get(key);
}

function sum(values: Map<string, number>, keys: string[]): number | undefined {
  const present = keys.filter((key) => values.has(key));
  return present.length === 0 ? undefined : present.reduce((total, key) => total + (values.get(key) as number), 0);
}

function defined<T extends object>(object: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (value !== undefined) out[key] = value;
  return out as T;
}

export class ResourceReader {
  constructor(
    private readonly driver: CgroupDriver,
    private readonly host: ResourceHost,
    private readonly name: string,
    /** The box's cgroup when the caller has it already (one get() less per stats()). */
    private readonly cgroup?: BoxCgroup,
  ) {}

  /** A controller file of the box, or undefined when this host or box has none. */
  read(controller: string, file: string): string | undefined {
    try {
      if (this.cgroup === undefined) return this.driver.read(this.name, controller, file).trim();
      // The box's directories known: read where the driver would (its v1 hierarchy, else
      // cgroup2), without its existence checks — a sample of every box reads a dozen files.
      const dir = this.cgroup.v1Dirs[controller] ?? this.cgroup.fileDirs?.[file] ?? this.cgroup.unifiedDir;
      return dir === undefined ? undefined : readCgroupFileIfExists(`${dir}/${file}`)?.trim();
    } catch {
      return undefined;
    }
  }

  private v2(controller: 'cpu' | 'cpuset' | 'memory' | 'io' | 'hugetlb'): boolean {
    return this.host.flavor(controller) === 'v2';
  }

  /** A byte limit, or undefined for none ('max', -1, v1's huge "unlimited"). */
  private limit(text: string | undefined): number | undefined {
    if (text === undefined || text === 'max' || text === '') return undefined;
    const value = Number(text);
    return Number.isFinite(value) && value >= 0 && value < V1_UNLIMITED_FLOOR ? value : undefined;
  }

  /** `unified`: the raw files owners declared, read back as the kernel shows them. */
  effective(cgroup: BoxCgroup, unified: string[], softLimitIsReservation: boolean): BoxResources {
    const resources: BoxResources = {};
    const cpu = this.effectiveCpu();
    if (Object.keys(cpu).length > 0) resources.cpu = cpu;
    const memory = this.effectiveMemory(softLimitIsReservation);
    if (Object.keys(memory).length > 0) resources.memory = memory;
    const pids = this.limit(this.read('pids', 'pids.max'));
    if (pids !== undefined) resources.pids = { max: pids };
    const io = this.effectiveIo();
    if (io.weight !== undefined || (io.throttle?.length ?? 0) > 0) resources.io = io;
    const hugetlb: Record<string, number> = {};
    for (const size of hugepageSizes()) {
      const value = this.limit(this.read('hugetlb', this.v2('hugetlb') ? `hugetlb.${size}.max` : `hugetlb.${size}.limit_in_bytes`));
      if (value !== undefined) hugetlb[size] = value;
    }
    if (Object.keys(hugetlb).length > 0) resources.hugetlb = hugetlb;
    if (cgroup.unifiedDir !== undefined && unified.length > 0) {
      const raw: Record<string, string> = {};
      for (const file of unified) {
        const text = readCgroupFileIfExists(join(cgroup.fileDirs?.[file] ?? cgroup.unifiedDir, file));
        if (text !== undefined) raw[file] = text.trim();
      }
      resources.unified = raw;
    }
    return resources;
  }

  private effectiveCpu(): NonNullable<BoxResources['cpu']> {
    const cpu: NonNullable<BoxResources['cpu']> = {};
    if (this.v2('cpu')) {
      const [quota, period] = (this.read('cpu', 'cpu.max') ?? 'max').split(/\s+/);
      if (quota !== 'max' && quota !== undefined) Object.assign(cpu, { quota: Number(quota), period: Number(period ?? CFS_PERIOD_US) });
      const burst = Number(this.read('cpu', 'cpu.max.burst') ?? 0);
      if (burst > 0) cpu.burst = burst;
      const weight = this.read('cpu', 'cpu.weight');
      if (weight !== undefined) cpu.weight = Number(weight);
    } else {
      const quota = Number(this.read('cpu', 'cpu.cfs_quota_us') ?? -1);
      if (quota > 0) Object.assign(cpu, { quota, period: Number(this.read('cpu', 'cpu.cfs_period_us') ?? CFS_PERIOD_US) });
      const burst = Number(this.read('cpu', 'cpu.cfs_burst_us') ?? 0);
      if (burst > 0) cpu.burst = burst;
      const shares = this.read('cpu', 'cpu.shares');
      if (shares !== undefined) cpu.weight = sharesToWeight(Number(shares));
      const runtime = Number(this.read('cpu', 'cpu.rt_runtime_us') ?? 0);
      if (runtime > 0) Object.assign(cpu, { realtimeRuntime: runtime, realtimePeriod: Number(this.read('cpu', 'cpu.rt_period_us') ?? RT_PERIOD_US) });
    }
    const cpus = this.read('cpuset', 'cpuset.cpus');
    if (cpus) cpu.cpus = cpus;
    const mems = this.read('cpuset', 'cpuset.mems');
    if (mems) cpu.mems = mems;
    return cpu;
  }

  private effectiveMemory(softLimitIsReservation: boolean): NonNullable<BoxResources['memory']> {
    if (this.v2('memory')) {
      const low = Number(this.read('memory', 'memory.low') ?? 0);
      const min = Number(this.read('memory', 'memory.min') ?? 0);
      return defined({
        max: this.limit(this.read('memory', 'memory.max')),
        high: this.limit(this.read('memory', 'memory.high')),
        swap: this.limit(this.read('memory', 'memory.swap.max')),
        reservation: low > 0 ? low : undefined,
        minimum: min > 0 ? min : undefined,
      });
    }
    const max = this.limit(this.read('memory', 'memory.limit_in_bytes'));
    const memsw = this.limit(this.read('memory', 'memory.memsw.limit_in_bytes'));
    const soft = this.limit(this.read('memory', 'memory.soft_limit_in_bytes'));
    const oomKillDisable = field(this.read('memory', 'memory.oom_control'), 'oom_kill_disable') === 1;
    return defined({
      max,
      // v1's one soft limit is the reservation when an owner declared one, else the throttle point.
      high: softLimitIsReservation ? undefined : soft,
      reservation: softLimitIsReservation ? soft : undefined,
      swap: memsw === undefined || max === undefined ? undefined : memsw - max,
      oomKillDisable: oomKillDisable ? true : undefined,
    });
  }

  private effectiveIo(): NonNullable<BoxResources['io']> {
    const io: NonNullable<BoxResources['io']> = {};
    const byDevice = new Map<string, IoThrottle>();
    const entry = (device: string) => byDevice.get(device) ?? (byDevice.set(device, { device }).get(device) as IoThrottle);
    if (this.v2('io')) {
      // Where BFQ weighs IO (io.cost on nowhere), BFQ's weight is the one enforced; under systemd
      // io.weight holds the IOWeight systemd maps to it (300 → 2300: systemd-driver.ts).
      const mount = this.driver.layout.unified;
      const bfq = mount === undefined || ioCostEnabled(mount) ? undefined : this.read('io', 'io.bfq.weight');
      const weight = /^default (\d+)$/m.exec(bfq ?? this.read('io', 'io.weight') ?? '')?.[1];
      if (weight !== undefined) io.weight = Number(weight);
      for (const line of (this.read('io', 'io.max') ?? '').split('\n')) {
        const [device, ...settings] = line.trim().split(/\s+/);
        if (!device) continue;
        for (const setting of settings) {
          const [key, value] = setting.split('=');
          const name = (Object.keys(v2ThrottleKeys) as ThrottleField[]).find((candidate) => v2ThrottleKeys[candidate] === key);
          if (name && value !== 'max') entry(device)[name] = Number(value);
        }
      }
    } else if (this.host.flavor('io') === 'v1') {
      const cfq = this.read('blkio', 'blkio.weight');
      const bfq = this.read('blkio', 'blkio.bfq.weight');
      if (cfq !== undefined && /^\d+$/.test(cfq)) io.weight = blkioToWeight(Number(cfq));
      else if (bfq !== undefined) io.weight = Number(/^(?:default )?(\d+)$/m.exec(bfq)?.[1] ?? 100); // BFQ's scale is the weight's (weightToBfq)
      for (const [name, file] of Object.entries(v1ThrottleFiles) as [ThrottleField, string][]) {
        for (const line of (this.read('blkio', file) ?? '').split('\n')) {
          const [device, value] = line.trim().split(/\s+/);
          if (device && value) entry(device)[name] = Number(value);
        }
      }
    }
    if (byDevice.size > 0) io.throttle = [...byDevice.values()];
    return io;
  }

  stats(): ResourceStats {
    const number = (text: string | undefined) => (text === undefined || text === '' ? undefined : Number(text));
    const stats: ResourceStats = { cpu: {}, memory: {}, pids: {}, io: [] };
    // Each file parsed once: the sampler reads every box each round.
    const cpuStat = keyedValues(this.read('cpu', 'cpu.stat'));
    if (this.v2('cpu') || this.host.flavor('cpu') === undefined) {
      stats.cpu = defined({
        usageUsec: cpuStat.get('usage_usec'),
        userUsec: cpuStat.get('user_usec'),
        systemUsec: cpuStat.get('system_usec'),
        throttledPeriods: cpuStat.get('nr_throttled'),
        throttledUsec: cpuStat.get('throttled_usec'),
        bursts: cpuStat.get('nr_bursts'),
        burstUsec: cpuStat.get('burst_usec'),
      });
    } else {
      const usage = number(this.read('cpuacct', 'cpuacct.usage'));
      // cpuacct.stat counts USER_HZ ticks, 100 a second on Linux.
      const ticks = keyedValues(this.read('cpuacct', 'cpuacct.stat'));
      const user = ticks.get('user');
      const system = ticks.get('system');
      const throttled = cpuStat.get('throttled_time');
      stats.cpu = defined({
        usageUsec: usage === undefined ? undefined : Math.round(usage / 1000),
        userUsec: user === undefined ? undefined : user * 10_000,
        systemUsec: system === undefined ? undefined : system * 10_000,
        throttledPeriods: cpuStat.get('nr_throttled'),
        throttledUsec: throttled === undefined ? undefined : Math.round(throttled / 1000),
      });
    }
    const v2Memory = this.v2('memory');
    stats.memory = defined({
      usage: number(this.read('memory', v2Memory ? 'memory.current' : 'memory.usage_in_bytes')),
      peak: number(this.read('memory', v2Memory ? 'memory.peak' : 'memory.max_usage_in_bytes')),
      swapUsage: v2Memory ? number(this.read('memory', 'memory.swap.current')) : undefined,
      ...this.memoryKinds(v2Memory),
    });
    stats.pids = defined({ current: number(this.read('pids', 'pids.current')), peak: number(this.read('pids', 'pids.peak')) });
    stats.io = this.ioStats();
    const pressure = this.pressure();
    if (pressure) stats.pressure = pressure;
    return stats;
  }

  /** Memory by kind: v2's memory.stat, v1's hierarchical totals and kmem counters. */
  private memoryKinds(v2Memory: boolean): Partial<ResourceStats['memory']> {
    const stat = keyedValues(this.read('memory', 'memory.stat'));
    if (v2Memory) {
      // Kernels before 5.18 have no `kernel` key: its main parts are there.
      const kernel = stat.get('kernel') ?? sum(stat, ['kernel_stack', 'pagetables', 'slab', 'percpu']);
      return { anon: stat.get('anon'), file: stat.get('file'), kernel, sock: stat.get('sock') };
    }
    const number = (text: string | undefined) => (text === undefined || text === '' ? undefined : Number(text));
    const swap = stat.get('total_swap');
    return {
      anon: stat.get('total_rss'),
      file: stat.get('total_cache'),
      kernel: number(this.read('memory', 'memory.kmem.usage_in_bytes')),
      sock: number(this.read('memory', 'memory.kmem.tcp.usage_in_bytes')),
      // v1 counts swap only with swap accounting (memsw); total_swap is then in memory.stat.
      ...(swap !== undefined ? { swapUsage: swap } : {}),
    };
  }

  /** PSI of the box's cgroup2 directory (cgroup2's core files: on hybrid hosts too, whatever its controllers). */
  private pressure(): ResourceStats['pressure'] | undefined {
    const unifiedDir = (this.cgroup ?? this.driver.get(this.name))?.unifiedDir;
    if (unifiedDir === undefined) return undefined;
    const pressure: NonNullable<ResourceStats['pressure']> = {};
    for (const resource of ['cpu', 'memory', 'io'] as const) {
      // Read in the unified directory itself: on a hybrid host `cpu` names the v1 hierarchy.
      const parsed = parsePressure(readCgroupFileIfExists(`${unifiedDir}/${resource}.pressure`));
      if (parsed) pressure[resource] = parsed;
    }
    return Object.keys(pressure).length > 0 ? pressure : undefined;
  }

  private ioStats(): ResourceStats['io'] {
    const byDevice = new Map<string, ResourceStats['io'][number]>();
    const entry = (device: string) =>
      byDevice.get(device) ?? (byDevice.set(device, { device, readBytes: 0, writeBytes: 0, reads: 0, writes: 0 }).get(device) as ResourceStats['io'][number]);
    if (this.v2('io')) {
      for (const line of (this.read('io', 'io.stat') ?? '').split('\n')) {
        const [device, ...settings] = line.trim().split(/\s+/);
        if (!device) continue;
        const values = new Map(settings.map((setting) => setting.split('=') as [string, string]));
        Object.assign(entry(device), {
          readBytes: Number(values.get('rbytes') ?? 0),
          writeBytes: Number(values.get('wbytes') ?? 0),
          reads: Number(values.get('rios') ?? 0),
          writes: Number(values.get('wios') ?? 0),
        });
      }
    } else if (this.host.flavor('io') === 'v1') {
      const lines = (file: string, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
        for (const line of (this.read('blkio', file) ?? '').split('\n')) {
          const [device, op, value] = line.trim().split(/\s+/);
          if (!device || !/^\d+:\d+$/.test(device)) continue;
          if (op === 'Read') entry(device)[read] = Number(value);
          if (op === 'Write') entry(device)[write] = Number(value);
        }
      };
      lines('blkio.throttle.io_service_bytes_recursive', 'readBytes', 'writeBytes');
      lines('blkio.throttle.io_serviced_recursive', 'reads', 'writes');
    }
    return [...byDevice.values()];
  }

  events(): ResourceEvents {
    const memoryEvents = this.v2('memory') ? this.read('memory', 'memory.events') : this.read('memory', 'memory.oom_control');
    return { oomKills: field(memoryEvents, 'oom_kill') ?? 0, pidsMax: field(this.read('pids', 'pids.events'), 'max') ?? 0 };
  }
}
