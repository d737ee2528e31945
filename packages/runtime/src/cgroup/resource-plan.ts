/**
 * The cgroup files that carry merged knobs, for v1 and v2 controllers alike (a hybrid host
 * mixes them: the caller says which flavour each controller has). Pure: the result is the
 * list of files with their values and the value that puts the kernel's default back, so that
 * the manager can diff it against the last plan it wrote and write only what changed.
 */

import { NsboxError } from '@nsbox/core';
import { CFS_PERIOD_US, type KnobPair, parseThrottleKey, RT_PERIOD_US, type ThrottleField } from './resource-knobs.js';
import type { MergedKnob } from './resource-merge.js';

export type Flavor = 'v1' | 'v2';
export type ResourceController = 'cpu' | 'cpuset' | 'memory' | 'pids' | 'io' | 'hugetlb';

export interface PlanContext {
  flavor(controller: ResourceController): Flavor | undefined;
  /** Where a controller is missing, what the host has (for the error). */
  mounted(): string;
  /**
   * The cpuset a box gets back when nobody sets one any more: on v1 the parent level's (a v1
   * cpuset cannot be empty); on v2 every CPU (memory node) online, of which the kernel keeps
   * what the levels above allow — not v2's empty "the parent's", which Linux 6.1 refuses for a
   * cgroup with processes (ENOSPC), so a running box could not lose its cpuset limit.
   */
  parentCpuset(file: 'cpuset.cpus' | 'cpuset.mems'): string;
  /**
   * The IO weight files this kernel has (v1 blkio.weight, blkio.bfq.weight; v2 io.weight of
   * io.cost, io.bfq.weight of BFQ): each is written, as systemd does, so the weight holds on a
   * device whichever of them weighs its IO.
   */
  ioWeightFiles(): string[];
}

export interface PlannedWrite {
  /** One per file and device: 'memory/memory.max', 'blkio/blkio.throttle.read_bps_device 7:0'. */
  id: string;
  /** Controller as the cgroup driver names it (blkio on v1, io on v2); '' for a raw unified file. */
  controller: string;
  file: string;
  value: string;
  /** Puts the kernel's default back; undefined where nsbox cannot know it (raw unified files). */
  reset?: string;
  knobs: string[];
}

const V1_UNLIMITED = '-1';

/** cgroup v2 weight (1-10000, default 100) to v1 shares (default 1024), as systemd maps CPUWeight. */
export function weightToShares(weight: number): number {
  return Math.min(262_144, Math.max(2, Math.round((weight * 1024) / 100)));
}

export function sharesToWeight(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round((shares * 100) / 1024)));
}

/** v2 weight (1-10000) to the 10-1000 of blkio.weight and BFQ (runc's conversion, inverted). */
export function weightToBlkio(weight: number): number {
  return 10 + Math.round(((weight - 1) * 990) / 9999);
}

/**
 * v2 weight (1-10000) to BFQ's weight (1-1000, default 100, io.bfq.weight and
 * blkio.bfq.weight): the same number, capped at 1000. Both scales default to 100, so the
 * ratio between boxes holds (1:3 stays 1:3), which an affine map such as CFQ's would bend.
 */
export function weightToBfq(weight: number): number {
  return Math.min(1000, Math.max(1, Math.round(weight)));
}

export function blkioToWeight(blkio: number): number {
  return 1 + Math.round(((blkio - 10) * 9999) / 990);
}

export const v1ThrottleFiles: Record<ThrottleField, string> = {
  readBps: 'blkio.throttle.read_bps_device',
  writeBps: 'blkio.throttle.write_bps_device',
  readIops: 'blkio.throttle.read_iops_device',
  writeIops: 'blkio.throttle.write_iops_device',
};

export const v2ThrottleKeys: Record<ThrottleField, string> = { readBps: 'rbps', writeBps: 'wbps', readIops: 'riops', writeIops: 'wiops' };

function unsupported(knob: MergedKnob, reason: string): NsboxError {
  return new NsboxError('E_UNSUPPORTED', `resource ${knob.key} (from '${knob.ownership.owners.join("', '")}') cannot be enforced on this host: ${reason}`, {
    details: { field: knob.key, owners: knob.ownership.owners, reason },
  });
}

function write(controller: string, file: string, value: string | number, reset: string | undefined, knobs: string[], device?: string): PlannedWrite {
  const planned: PlannedWrite = { id: `${controller}/${file}${device ? ` ${device}` : ''}`, controller, file, value: String(value), knobs };
  if (reset !== undefined) planned.reset = reset;
  return planned;
}

class Planner {
  readonly writes: PlannedWrite[] = [];

  constructor(
    private readonly knobs: Map<string, MergedKnob>,
    private readonly context: PlanContext,
  ) {}

  private flavorFor(knob: MergedKnob, controller: ResourceController): Flavor {
    const flavor = this.context.flavor(controller);
    if (flavor === undefined) {
      const name = controller === 'io' ? 'blkio (v1) or io (v2)' : controller;
      throw unsupported(knob, `this host has no ${name} cgroup controller for boxes (mounted: ${this.context.mounted()})`);
    }
    return flavor;
  }

  plan(only?: string): PlannedWrite[] {
    for (const knob of this.knobs.values()) {
      if (only !== undefined && knob.key !== only) continue;
      if (knob.key === 'cpu.quota') this.cpuQuota(knob);
      else if (knob.key === 'cpu.burst') this.cpuBurst(knob);
      else if (knob.key === 'cpu.weight') this.cpuWeight(knob);
      else if (knob.key === 'cpu.realtime') this.realtime(knob);
      else if (knob.key === 'cpu.cpus' || knob.key === 'cpu.mems') this.cpuset(knob);
      else if (knob.key.startsWith('memory.')) this.memory(knob);
      else if (knob.key === 'pids.max') this.pids(knob);
      else if (knob.key === 'io.weight') this.ioWeight(knob);
      else if (knob.key.startsWith('io.throttle[')) this.throttle(knob);
      else if (knob.key.startsWith('hugetlb.')) this.hugetlb(knob);
      else if (knob.key.startsWith('unified.')) this.writes.push(write('', knob.key.slice(8), knob.value as string, undefined, [knob.key]));
    }
    return mergeIoMax(this.writes);
  }

  private cpuQuota(knob: MergedKnob): void {
    const pair = knob.value as KnobPair;
    const period = pair.period ?? CFS_PERIOD_US;
    if (this.flavorFor(knob, 'cpu') === 'v2') {
      this.writes.push(write('cpu', 'cpu.max', `${pair.limit ?? 'max'} ${period}`, `max ${CFS_PERIOD_US}`, [knob.key]));
      return;
    }
    this.writes.push(write('cpu', 'cpu.cfs_period_us', period, String(CFS_PERIOD_US), [knob.key]));
    this.writes.push(write('cpu', 'cpu.cfs_quota_us', pair.limit ?? V1_UNLIMITED, V1_UNLIMITED, [knob.key]));
  }

  /** At most the merged quota (the kernel refuses more): a burst never lifts a hard cap. */
  private cpuBurst(knob: MergedKnob): void {
    const quota = (this.knobs.get('cpu.quota')?.value as KnobPair | undefined)?.limit;
    const burst = Math.min(knob.value as number, quota ?? Number.POSITIVE_INFINITY);
    if (this.flavorFor(knob, 'cpu') === 'v2') this.writes.push(write('cpu', 'cpu.max.burst', burst, '0', [knob.key]));
    else this.writes.push(write('cpu', 'cpu.cfs_burst_us', burst, '0', [knob.key]));
  }

  private cpuWeight(knob: MergedKnob): void {
    const weight = knob.value as number;
    if (this.flavorFor(knob, 'cpu') === 'v2') this.writes.push(write('cpu', 'cpu.weight', weight, '100', [knob.key]));
    else this.writes.push(write('cpu', 'cpu.shares', weightToShares(weight), '1024', [knob.key]));
  }

  private realtime(knob: MergedKnob): void {
    if (this.flavorFor(knob, 'cpu') === 'v2') {
      throw unsupported(knob, 'realtime CPU time is limited by cgroup v1 only (cpu.rt_runtime_us): cgroup2 has no realtime group scheduling');
    }
    const pair = knob.value as KnobPair;
    this.writes.push(write('cpu', 'cpu.rt_period_us', pair.period ?? RT_PERIOD_US, String(RT_PERIOD_US), [knob.key]));
    this.writes.push(write('cpu', 'cpu.rt_runtime_us', pair.limit ?? 0, '0', [knob.key]));
  }

  private cpuset(knob: MergedKnob): void {
    const file = knob.key === 'cpu.cpus' ? 'cpuset.cpus' : 'cpuset.mems';
    this.flavorFor(knob, 'cpuset');
    this.writes.push(write('cpuset', file, knob.value as string, this.context.parentCpuset(file), [knob.key]));
  }

  private memory(knob: MergedKnob): void {
    const v2 = this.flavorFor(knob, 'memory') === 'v2';
    const value = knob.value;
    switch (knob.key) {
      case 'memory.max':
        this.writes.push(
          v2
            ? write('memory', 'memory.max', value as number, 'max', [knob.key])
            : write('memory', 'memory.limit_in_bytes', value as number, V1_UNLIMITED, [knob.key]),
        );
        return;
      case 'memory.high':
        if (v2) this.writes.push(write('memory', 'memory.high', value as number, 'max', [knob.key]));
        else this.softLimit(knob);
        return;
      case 'memory.reservation':
        if (v2) this.writes.push(write('memory', 'memory.low', value as number, '0', [knob.key]));
        else this.softLimit(knob);
        return;
      case 'memory.minimum':
        if (!v2) {
          throw unsupported(
            knob,
            "cgroup v1 has no hard memory protection (memory.min is cgroup2's; v1's soft limit is only a hint to the host's own reclaim)",
          );
        }
        this.writes.push(write('memory', 'memory.min', value as number, '0', [knob.key]));
        return;
      case 'memory.swap': {
        if (v2) {
          this.writes.push(write('memory', 'memory.swap.max', value as number, 'max', [knob.key]));
          return;
        }
        // v1 counts memory and swap together (memsw = memory + swap).
        const max = this.knobs.get('memory.max');
        if (!max) throw unsupported(knob, 'cgroup v1 limits memory and swap together (memsw): memory.max must be set too');
        this.writes.push(write('memory', 'memory.memsw.limit_in_bytes', (max.value as number) + (value as number), V1_UNLIMITED, ['memory.max', knob.key]));
        return;
      }
      case 'memory.oomKillDisable':
        if (v2) throw unsupported(knob, 'cgroup2 has no switch to turn the OOM killer off (memory.oom_control is cgroup v1 only)');
        this.writes.push(write('memory', 'memory.oom_control', value ? '1' : '0', '0', [knob.key]));
        return;
    }
  }

  /** v1 has one soft limit for both the throttle point and the reservation. */
  private softLimit(knob: MergedKnob): void {
    const other = this.knobs.get(knob.key === 'memory.high' ? 'memory.reservation' : 'memory.high');
    if (other) {
      throw unsupported(
        knob,
        `memory.high and memory.reservation are both cgroup v1's memory.soft_limit_in_bytes, and '${other.ownership.owners.join("', '")}' sets ${other.key}: set one of them`,
      );
    }
    this.writes.push(write('memory', 'memory.soft_limit_in_bytes', knob.value as number, V1_UNLIMITED, [knob.key]));
  }

  private pids(knob: MergedKnob): void {
    this.flavorFor(knob, 'pids');
    this.writes.push(write('pids', 'pids.max', knob.value as number, 'max', [knob.key]));
  }

  private ioWeight(knob: MergedKnob): void {
    const v2 = this.flavorFor(knob, 'io') === 'v2';
    const files = this.context.ioWeightFiles();
    if (files.length === 0) {
      throw unsupported(
        knob,
        `this kernel weighs IO only with the BFQ scheduler, and there is no ${v2 ? 'io.weight or io.bfq.weight' : 'blkio.weight or blkio.bfq.weight'} here`,
      );
    }
    const weight = knob.value as number;
    for (const file of files) {
      if (file === 'io.weight') this.writes.push(write('io', file, `default ${weight}`, 'default 100', [knob.key]));
      else if (file === 'io.bfq.weight') this.writes.push(write('io', file, `default ${weightToBfq(weight)}`, 'default 100', [knob.key]));
      else if (file === 'blkio.bfq.weight') this.writes.push(write('blkio', file, weightToBfq(weight), '100', [knob.key]));
      else this.writes.push(write('blkio', file, weightToBlkio(weight), '500', [knob.key]));
    }
  }

  private throttle(knob: MergedKnob): void {
    const [device, field] = parseThrottleKey(knob.key) as [string, ThrottleField];
    if (this.flavorFor(knob, 'io') === 'v1') {
      // v1 takes a device's throttle away when 0 is written for it.
      this.writes.push(write('blkio', v1ThrottleFiles[field], `${device} ${knob.value}`, `${device} 0`, [knob.key], device));
      return;
    }
    // One io.max line per device carries all four; mergeIoMax joins them.
    this.writes.push(
      write('io', 'io.max', `${device} ${v2ThrottleKeys[field]}=${knob.value}`, `${device} rbps=max wbps=max riops=max wiops=max`, [knob.key], device),
    );
  }

  private hugetlb(knob: MergedKnob): void {
    const size = knob.key.slice('hugetlb.'.length);
    if (this.flavorFor(knob, 'hugetlb') === 'v2') this.writes.push(write('hugetlb', `hugetlb.${size}.max`, knob.value as number, 'max', [knob.key]));
    else this.writes.push(write('hugetlb', `hugetlb.${size}.limit_in_bytes`, knob.value as number, V1_UNLIMITED, [knob.key]));
  }
}

/** One io.max write per device, every key named (those nobody limits at max). */
function mergeIoMax(writes: PlannedWrite[]): PlannedWrite[] {
  const byDevice = new Map<string, PlannedWrite>();
  const result: PlannedWrite[] = [];
  for (const planned of writes) {
    if (planned.file !== 'io.max' || planned.controller !== 'io') {
      result.push(planned);
      continue;
    }
    const existing = byDevice.get(planned.id);
    if (existing) {
      existing.value = `${existing.value} ${planned.value.split(' ')[1]}`;
      existing.knobs.push(...planned.knobs);
    } else {
      const copy = { ...planned, knobs: [...planned.knobs] };
      byDevice.set(planned.id, copy);
      result.push(copy);
    }
  }
  for (const planned of byDevice.values()) {
    const [device, ...settings] = planned.value.split(' ');
    const given = new Map(settings.map((setting) => setting.split('=') as [string, string]));
    planned.value = [device, ...Object.values(v2ThrottleKeys).map((key) => `${key}=${given.get(key) ?? 'max'}`)].join(' ');
  }
  return result;
}

/**
 * The files for merged knobs (`only`: for that knob alone, in the company of the others);
 * throws E_UNSUPPORTED naming the knob (and its owner) the host cannot do.
 */
export function planWrites(knobs: Map<string, MergedKnob>, context: PlanContext, only?: string): PlannedWrite[] {
  return new Planner(knobs, context).plan(only);
}

function v1Limit(text: string | undefined): number {
  return text === undefined || Number(text) < 0 ? Number.POSITIVE_INFINITY : Number(text);
}

/**
 * The writes that take the box from `previous` (undefined: unknown, after a crash) to `next`:
 * files whose value changed, and the reset of files no knob carries any more, in an order the
 * kernel accepts at every step (v1: memory ≤ memsw; realtime runtime ≤ its period).
 */
export function diffPlans(previous: PlannedWrite[] | undefined, next: PlannedWrite[], known: PlannedWrite[] = previous ?? []): PlannedWrite[] {
  const before = new Map(known.map((planned) => [planned.id, planned]));
  const writes = next.filter((planned) => previous === undefined || before.get(planned.id)?.value !== planned.value);
  const nextIds = new Set(next.map((planned) => planned.id));
  for (const planned of known) {
    if (!nextIds.has(planned.id) && planned.reset !== undefined) writes.push({ ...planned, value: planned.reset, knobs: [...planned.knobs] });
  }
  return orderWrites(writes, (id) => before.get(id)?.value);
}

function orderWrites(writes: PlannedWrite[], current: (id: string) => string | undefined): PlannedWrite[] {
  let ordered = writes;
  const moveFirst = (id: string, before: string) => {
    const mover = ordered.find((planned) => planned.id === id);
    const other = ordered.find((planned) => planned.id === before);
    if (!mover || !other || ordered.indexOf(mover) < ordered.indexOf(other)) return;
    ordered = ordered.filter((planned) => planned !== mover);
    ordered.splice(ordered.indexOf(other), 0, mover);
  };
  // v1 keeps memory ≤ memsw at every moment: a memory limit above the current memsw goes after memsw grows.
  const memory = ordered.find((planned) => planned.id === 'memory/memory.limit_in_bytes');
  if (memory && v1Limit(memory.value) > v1Limit(current('memory/memory.memsw.limit_in_bytes'))) {
    moveFirst('memory/memory.memsw.limit_in_bytes', 'memory/memory.limit_in_bytes');
  }
  // The burst never exceeds the quota: a smaller burst before the quota, a larger one after it.
  for (const [burstId, quotaId] of [
    ['cpu/cpu.cfs_burst_us', 'cpu/cpu.cfs_quota_us'],
    ['cpu/cpu.max.burst', 'cpu/cpu.max'],
  ] as const) {
    const burst = ordered.find((planned) => planned.id === burstId);
    if (!burst) continue;
    if (Number(burst.value) < Number(current(burstId) ?? 0)) moveFirst(burstId, quotaId);
    else moveFirst(quotaId, burstId);
  }
  // The realtime runtime never exceeds its period: a longer period first, a shorter one last.
  const period = ordered.find((planned) => planned.id === 'cpu/cpu.rt_period_us');
  if (period && Number(period.value) < Number(current('cpu/cpu.rt_period_us') ?? RT_PERIOD_US)) moveFirst('cpu/cpu.rt_runtime_us', 'cpu/cpu.rt_period_us');
  return ordered;
}
