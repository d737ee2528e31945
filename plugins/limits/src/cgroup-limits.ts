/**
 * The cgroup part of a `limits` section, through the runtime's cgroup manager: the section
 * becomes resources declared under the owner 'limits' (merged there with what other plugins
 * want), and what `nsbox limits` shows is read back through it. The runtime owns the box's
 * cgroup and writes its files; this plugin never does.
 */

import { type Box, inject, injectable, optional } from '@nsbox/core';
import { type ApplyResult, type BoxResources, type CgroupDriver, type CgroupManager, runtimeRefs } from '@nsbox/runtime-api';
import type { LimitsConfig } from './config-schema.js';

/** The owner name limits declares its resources under. */
export const LIMITS_OWNER = 'limits';

export const CFS_PERIOD_US = 100_000;

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

/** The section's knob for each resource the runtime names (to word a refusal as `limits.<field>`). */
const FIELD_OF_KNOB: Record<string, keyof LimitsConfig> = {
  'cpu.quota': 'cpus',
  'cpu.weight': 'cpuWeight',
  'cpu.cpus': 'cpuset',
  'cpu.mems': 'cpusetMems',
  'memory.max': 'memory',
  'memory.high': 'memoryHigh',
  'memory.swap': 'swap',
  'pids.max': 'pids',
};

export function fieldOfKnob(knob: string): string {
  return FIELD_OF_KNOB[knob] ?? (knob.startsWith('io.') ? 'io' : knob);
}

/** A `limits` section as runtime resources; io devices as resolved to 'major:minor' (unresolved ones are left out). */
export function limitsResources(config: LimitsConfig, devices: Map<string, string>): BoxResources {
  const resources: BoxResources = {};
  const cpu: NonNullable<BoxResources['cpu']> = {};
  if (config.cpus !== undefined) Object.assign(cpu, { quota: Math.round(config.cpus * CFS_PERIOD_US), period: CFS_PERIOD_US });
  if (config.cpuWeight !== undefined) cpu.weight = config.cpuWeight;
  if (config.cpuset !== undefined) cpu.cpus = config.cpuset;
  if (config.cpusetMems !== undefined) cpu.mems = config.cpusetMems;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;
  const memory: NonNullable<BoxResources['memory']> = {};
  if (config.memory !== undefined) memory.max = config.memory;
  if (config.memoryHigh !== undefined) memory.high = config.memoryHigh;
  if (config.swap !== undefined) memory.swap = config.swap;
  if (Object.keys(memory).length > 0) resources.memory = memory;
  if (config.pids !== undefined) resources.pids = { max: config.pids };
  const throttle = (config.io ?? []).flatMap(({ device, ...rates }) => {
    const id = devices.get(device);
    return id === undefined ? [] : [{ device: id, ...rates }];
  });
  if (throttle.length > 0) resources.io = { throttle };
  return resources;
}

/**
 * What the section means where it says nothing, as defaults of the owner limits: the admin's
 * default pids limit (where this host has a pids controller), and no swap for a box whose
 * memory is limited without saying how much swap — a box held to 64M must not page the rest
 * of what it allocates out to the host's swap, unbounded, on a host that has swap (v2's
 * memory.swap.max 0; v1's memsw = memory, where the kernel accounts swap). `enforceable`
 * says whether this host can do a set of resources.
 */
export function limitsDefaults(config: LimitsConfig, defaultPids: number | null, enforceable: (resources: BoxResources) => boolean): BoxResources | undefined {
  const defaults: BoxResources = {};
  if (defaultPids !== null && config.pids === undefined && enforceable({ pids: { max: defaultPids } })) defaults.pids = { max: defaultPids };
  if (config.memory !== undefined && config.swap === undefined && enforceable({ memory: { max: config.memory, swap: 0 } })) defaults.memory = { swap: 0 };
  return Object.keys(defaults).length > 0 ? defaults : undefined;
}

@injectable()
export class CgroupLimits {
  constructor(
    @inject(runtimeRefs.cgroupManager.token) @optional() private readonly manager: CgroupManager | undefined,
    @inject(runtimeRefs.cgroups.token) @optional() private readonly cgroups: CgroupDriver | undefined,
  ) {}

  get available(): boolean {
    return this.manager !== undefined;
  }

  /** Why a field cannot be enforced on this host, in the kernel's words (checked before any box is touched). */
  unsupported(config: LimitsConfig, devices: Map<string, string>): { field: string; reason: string }[] {
    if (!this.manager) return [];
    const seen = new Set<string>();
    return this.manager.check(limitsResources(config, devices)).flatMap(({ knob, reason }) => {
      const field = fieldOfKnob(knob);
      if (seen.has(field)) return [];
      seen.add(field);
      return [{ field, reason }];
    });
  }

  /**
   * Declares the section's resources for the box (a running box's cgroup changes at once),
   * with its defaults (limitsDefaults): they hold unless some owner sets the knob, and only
   * where this host can enforce them.
   */
  declare(box: Pick<Box, 'id'>, config: LimitsConfig, devices: Map<string, string>, defaultPids: number | null): ApplyResult | undefined {
    const manager = this.manager;
    if (!manager) return undefined;
    const defaults = limitsDefaults(config, defaultPids, (resources) => manager.check(resources).length === 0);
    return manager.apply(box, LIMITS_OWNER, limitsResources(config, devices), defaults ? { defaults } : {});
  }

  withdraw(box: Pick<Box, 'id'>): void {
    this.manager?.withdraw(box, LIMITS_OWNER);
  }

  boxPids(box: Pick<Box, 'id'>): number[] {
    return this.cgroups?.pids(box.id) ?? [];
  }

  effective(box: Pick<Box, 'id'>): EffectiveLimits | undefined {
    const resources = this.manager?.effective(box);
    if (!resources) return undefined;
    const { cpu, memory } = resources;
    return {
      cpus: cpu?.quota === undefined ? null : Math.round((cpu.quota / (cpu.period ?? CFS_PERIOD_US)) * 1000) / 1000,
      cpuWeight: cpu?.weight ?? null,
      cpuset: cpu?.cpus ?? null,
      memory: memory?.max ?? null,
      memoryHigh: memory?.high ?? null,
      swap: memory?.swap ?? null,
      pids: resources.pids?.max ?? null,
      io: resources.io?.throttle ?? [],
    };
  }

  usage(box: Pick<Box, 'id'>): CgroupUsage | undefined {
    const stats = this.manager?.stats(box);
    if (!stats) return undefined;
    return {
      memory: stats.memory.usage ?? null,
      memoryPeak: stats.memory.peak ?? null,
      pids: stats.pids.current ?? null,
      cpuSeconds: stats.cpu.usageUsec === undefined ? null : stats.cpu.usageUsec / 1e6,
    };
  }

  counters(box: Pick<Box, 'id'>): CgroupCounters | undefined {
    return this.manager?.events(box);
  }
}
