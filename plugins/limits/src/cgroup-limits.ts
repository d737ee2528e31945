/**
 * Applies a `limits` section to a box's cgroup and reads back what the kernel enforces,
 * on whichever flavour (v1, v2, hybrid) each controller has here, through the runtime's
 * cgroup driver.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Box, inject, injectable, isNsboxError, NsboxError, optional } from '@nsbox/core';
import {
  CFS_PERIOD_US,
  type CgroupWrite,
  type Flavor,
  type LimitController,
  planCgroupWrites,
  sharesToWeight,
  throttledDevices,
  v1IoFiles,
} from './cgroup-plan.js';
import type { LimitsConfig } from './config-schema.js';
import { formatCpuList } from './cpu-list.js';
import { HostFacts } from './host-facts.js';
import { type CgroupAccess, RuntimeServices } from './host-services.js';

/** What the kernel enforces on a box now, read from its cgroup (null: no limit). */
export interface EffectiveLimits {
  cpus: number | null;
  cpuWeight: number | null;
  cpuset: string | null;
  memory: number | null;
  memoryHigh: number | null;
  swap: number | null;
  pids: number | null;
  io: { device: string; readBps?: number; writeBps?: number; readIops?: number; writeIops?: number }[];
}

export interface CgroupUsage {
  memory: number | null;
  memoryPeak: number | null;
  pids: number | null;
  cpuSeconds: number | null;
}

/** Event counters since the box's cgroup was made (each start makes a new one). */
export interface CgroupCounters {
  oomKills: number;
  pidsMax: number;
}

/** Values at or above this are v1's "no limit" (PAGE_COUNTER_MAX in bytes, rounded to a page). */
const V1_UNLIMITED_FLOOR = 2 ** 62;

@injectable()
export class CgroupLimits {
  private readonly host = new HostFacts();

  constructor(@inject(RuntimeServices.CgroupDriver) @optional() private readonly cgroups: CgroupAccess | undefined) {}

  get available(): boolean {
    return this.cgroups !== undefined;
  }

  private driver(): CgroupAccess {
    if (!this.cgroups) throw new NsboxError('E_UNSUPPORTED', 'limits need the Linux box driver (no cgroup driver is installed)');
    return this.cgroups;
  }

  /** The flavour of a controller on this host, or undefined when it has none. */
  flavor(controller: LimitController | 'cpuacct'): Flavor | undefined {
    const layout = this.driver().layout;
    const v1Name = controller === 'io' ? 'blkio' : controller;
    if (layout.kind !== 'v2' && layout.v1[v1Name] !== undefined) return 'v1';
    if (layout.unified !== undefined && layout.unifiedControllers.includes(controller === 'cpuacct' ? 'cpu' : controller)) return 'v2';
    return undefined;
  }

  /** Why a field cannot be enforced on this host (checked before any box is touched). */
  unsupported(config: LimitsConfig): { field: string; reason: string }[] {
    const problems: { field: string; reason: string }[] = [];
    const need = (field: string, controller: LimitController) => {
      if (this.flavor(controller) === undefined) {
        const name = controller === 'io' ? 'blkio (v1) or io (v2)' : controller;
        problems.push({ field, reason: `this host has no ${name} cgroup controller (mounted: ${this.mountedControllers()})` });
      }
    };
    if (config.cpus !== undefined) need('cpus', 'cpu');
    if (config.cpuWeight !== undefined) need('cpuWeight', 'cpu');
    if (config.cpuset !== undefined) need('cpuset', 'cpuset');
    if (config.cpusetMems !== undefined) need('cpusetMems', 'cpuset');
    for (const field of ['memory', 'memoryHigh', 'swap'] as const) if (config[field] !== undefined) need(field, 'memory');
    if (config.pids !== undefined) need('pids', 'pids');
    if (config.io?.length) need('io', 'io');
    if (config.swap !== undefined && this.flavor('memory') === 'v1') {
      const root = this.driver().layout.v1.memory as string;
      let hasMemsw = true;
      try {
        readFileSync(join(root, 'memory.memsw.limit_in_bytes'));
      } catch {
        hasMemsw = false;
      }
      if (!hasMemsw) problems.push({ field: 'swap', reason: 'the kernel does not account swap (no memory.memsw.* files: boot with swapaccount=1)' });
      else if (config.memory === undefined) problems.push({ field: 'swap', reason: 'cgroup v1 limits memory and swap together (memsw): set memory as well' });
    }
    return problems;
  }

  private mountedControllers(): string {
    const layout = this.driver().layout;
    const names = [...Object.keys(layout.v1).map((name) => `${name} (v1)`), ...layout.unifiedControllers.map((name) => `${name} (v2)`)];
    return names.join(', ') || 'none';
  }

  /** Makes the box's cgroup before the driver starts it (create is idempotent); true when it is new. */
  ensureCgroup(box: Pick<Box, 'id'>): boolean {
    const existed = this.driver().get(box.id) !== undefined;
    this.driver().create(box.id);
    return !existed;
  }

  async removeCgroup(box: Pick<Box, 'id'>): Promise<void> {
    await this.driver().remove(box.id);
  }

  boxPids(box: Pick<Box, 'id'>): number[] {
    return this.driver().pids(box.id);
  }

  /** Writes the whole section into the box's cgroup (which must exist); defaultPids holds where the section sets no pids. */
  apply(box: Pick<Box, 'id'>, config: LimitsConfig, devices: Map<string, string>, defaultPids: number | null = null): void {
    const cgroups = this.driver();
    const writes = orderMemoryWrites(
      planCgroupWrites(config, {
        flavor: (controller) => this.flavor(controller),
        parentCpus: this.parentCpuset('cpuset.cpus'),
        parentMems: this.parentCpuset('cpuset.mems'),
        devices,
        throttled: this.throttled(box.id),
        defaultPids,
      }),
      this.readOr(box.id, 'memory', 'memory.memsw.limit_in_bytes'),
    );
    for (const write of writes) {
      if (!write.required && this.flavorOf(write) === undefined) continue;
      try {
        cgroups.write(box.id, write.controller, write.file, write.value);
      } catch (error) {
        if (!write.required && isNsboxError(error) && error.code === 'E_UNSUPPORTED') continue;
        throw explainWriteFailure(write, error);
      }
    }
  }

  private flavorOf(write: CgroupWrite): Flavor | undefined {
    return this.flavor(write.controller === 'blkio' ? 'io' : (write.controller as LimitController));
  }

  /**
   * The cpuset of a box that sets none: v1's must hold a value, the parent level's; on v2
   * every CPU (memory node) online, of which the kernel keeps what the levels above allow.
   * Not v2's empty "the parent's": Linux 6.1 refuses to empty the cpuset of a box with
   * processes (ENOSPC), so a running box whose cpuset limit is removed could not get it back.
   */
  private parentCpuset(file: 'cpuset.cpus' | 'cpuset.mems'): string {
    const layout = this.driver().layout;
    const flavor = this.flavor('cpuset');
    if (flavor === 'v1') return readFileSync(join(layout.v1.cpuset as string, this.driver().parent, file), 'utf8').trim();
    if (flavor === 'v2') return formatCpuList(file === 'cpuset.cpus' ? this.host.onlineCpus() : this.host.onlineNodes());
    return '';
  }

  private throttled(name: string): Map<string, Set<string>> {
    const found = new Map<string, Set<string>>();
    const files = this.flavor('io') === 'v2' ? ['io.max'] : this.flavor('io') === 'v1' ? Object.values(v1IoFiles) : [];
    for (const file of files) {
      const text = this.readOr(name, file === 'io.max' ? 'io' : 'blkio', file);
      if (text !== undefined) found.set(file, throttledDevices(text));
    }
    return found;
  }

  /** A controller file of the box, or undefined when this host or box has none. */
  readOr(name: string, controller: string, file: string): string | undefined {
    try {
      return this.driver().read(name, controller, file);
    } catch {
      return undefined;
    }
  }

  effective(box: Pick<Box, 'id'>): EffectiveLimits | undefined {
    const id = box.id;
    if (!this.cgroups?.get(id)) return undefined;
    const v2 = (controller: LimitController) => this.flavor(controller) === 'v2';
    const bytes = (text: string | undefined) =>
      text === undefined || text.trim() === 'max' || Number(text) >= V1_UNLIMITED_FLOOR || Number(text) < 0 ? null : Number(text);
    let cpus: number | null = null;
    if (v2('cpu')) {
      const [quota, period] = (this.readOr(id, 'cpu', 'cpu.max') ?? 'max').trim().split(/\s+/);
      cpus = quota === 'max' ? null : Number(quota) / Number(period ?? CFS_PERIOD_US);
    } else {
      const quota = Number(this.readOr(id, 'cpu', 'cpu.cfs_quota_us') ?? -1);
      cpus = quota < 0 ? null : quota / Number(this.readOr(id, 'cpu', 'cpu.cfs_period_us') ?? CFS_PERIOD_US);
    }
    const weightText = v2('cpu') ? this.readOr(id, 'cpu', 'cpu.weight') : this.readOr(id, 'cpu', 'cpu.shares');
    const memory = bytes(this.readOr(id, 'memory', v2('memory') ? 'memory.max' : 'memory.limit_in_bytes'));
    const memsw = v2('memory') ? bytes(this.readOr(id, 'memory', 'memory.swap.max')) : bytes(this.readOr(id, 'memory', 'memory.memsw.limit_in_bytes'));
    const pidsText = this.readOr(id, 'pids', 'pids.max')?.trim();
    return {
      cpus: cpus === null ? null : Math.round(cpus * 1000) / 1000,
      cpuWeight: weightText === undefined ? null : v2('cpu') ? Number(weightText) : sharesToWeight(Number(weightText)),
      cpuset: this.readOr(id, 'cpuset', 'cpuset.cpus')?.trim() || null,
      memory,
      memoryHigh: bytes(this.readOr(id, 'memory', v2('memory') ? 'memory.high' : 'memory.soft_limit_in_bytes')),
      swap: v2('memory') ? memsw : memsw === null || memory === null ? null : memsw - memory,
      pids: pidsText === undefined || pidsText === 'max' ? null : Number(pidsText),
      io: this.effectiveIo(id),
    };
  }

  private effectiveIo(id: string): EffectiveLimits['io'] {
    const byDevice = new Map<string, EffectiveLimits['io'][number]>();
    const entry = (device: string) => byDevice.get(device) ?? byDevice.set(device, { device }).get(device)!;
    if (this.flavor('io') === 'v2') {
      for (const line of (this.readOr(id, 'io', 'io.max') ?? '').split('\n')) {
        const [device, ...settings] = line.trim().split(/\s+/);
        if (!device) continue;
        for (const setting of settings) {
          const [key, value] = setting.split('=');
          const field = { rbps: 'readBps', wbps: 'writeBps', riops: 'readIops', wiops: 'writeIops' }[key as string] as keyof typeof v1IoFiles | undefined;
          if (field && value !== 'max') entry(device)[field] = Number(value);
        }
      }
    } else if (this.flavor('io') === 'v1') {
      for (const [field, file] of Object.entries(v1IoFiles) as [keyof typeof v1IoFiles, string][]) {
        for (const line of (this.readOr(id, 'blkio', file) ?? '').split('\n')) {
          const [device, value] = line.trim().split(/\s+/);
          if (device && value) entry(device)[field] = Number(value);
        }
      }
    }
    return [...byDevice.values()];
  }

  usage(box: Pick<Box, 'id'>): CgroupUsage | undefined {
    const id = box.id;
    if (!this.cgroups?.get(id)) return undefined;
    const number = (text: string | undefined) => (text === undefined ? null : Number(text.trim()));
    const v2 = this.flavor('memory') === 'v2';
    let cpuSeconds: number | null = null;
    if (this.flavor('cpuacct') === 'v1') cpuSeconds = (number(this.readOr(id, 'cpuacct', 'cpuacct.usage')) ?? 0) / 1e9;
    else {
      const usec = /usage_usec (\d+)/.exec(this.readOr(id, 'cpu', 'cpu.stat') ?? '')?.[1];
      if (usec !== undefined) cpuSeconds = Number(usec) / 1e6;
    }
    return {
      memory: number(this.readOr(id, 'memory', v2 ? 'memory.current' : 'memory.usage_in_bytes')),
      memoryPeak: number(this.readOr(id, 'memory', v2 ? 'memory.peak' : 'memory.max_usage_in_bytes')),
      pids: number(this.readOr(id, 'pids', 'pids.current')),
      cpuSeconds,
    };
  }

  counters(box: Pick<Box, 'id'>): CgroupCounters | undefined {
    const id = box.id;
    if (!this.cgroups?.get(id)) return undefined;
    const field = (text: string | undefined, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '')?.[1] ?? 0);
    const memoryEvents = this.flavor('memory') === 'v2' ? this.readOr(id, 'memory', 'memory.events') : this.readOr(id, 'memory', 'memory.oom_control');
    return { oomKills: field(memoryEvents, 'oom_kill'), pidsMax: field(this.readOr(id, 'pids', 'pids.events'), 'max') };
  }
}

/**
 * v1 insists on memory ≤ memsw at every moment: when the new memory limit is above the
 * current memsw limit, memsw must grow first; otherwise memory goes first.
 */
export function orderMemoryWrites(writes: CgroupWrite[], currentMemsw: string | undefined): CgroupWrite[] {
  const memory = writes.find((write) => write.file === 'memory.limit_in_bytes');
  const memsw = writes.find((write) => write.file === 'memory.memsw.limit_in_bytes');
  if (!memory || !memsw) return writes;
  const asLimit = (text: string | undefined) => (text === undefined || Number(text) < 0 ? Number.POSITIVE_INFINITY : Number(text));
  if (asLimit(memory.value) <= asLimit(currentMemsw)) return writes;
  return [memsw, ...writes.filter((write) => write !== memsw)];
}

function explainWriteFailure(write: CgroupWrite, error: unknown): NsboxError {
  const cause = error as NsboxError;
  if (isNsboxError(error) && error.code === 'E_UNSUPPORTED') {
    return new NsboxError('E_UNSUPPORTED', `limits.${write.field} cannot be enforced on this host: ${error.message}`, {
      details: { field: `limits.${write.field}`, file: write.file },
      cause: error,
    });
  }
  return new NsboxError('E_RUNTIME', `limits.${write.field}: the kernel refused ${write.file} = '${write.value}': ${cause.message}`, {
    details: { field: `limits.${write.field}`, file: write.file, value: write.value },
    cause: error,
  });
}
