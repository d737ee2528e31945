/**
 * `linux.resources` becomes the resources nsbox-runc declares to the runtime's cgroup manager
 * as the owner 'oci' (merged there with what plugins declare, written once). `devices` stays
 * in the spec (the compiler attaches it as a cgroup BPF program). A field this host cannot
 * enforce is refused with the kernel's reason (`checkResources`); a field nsbox does not
 * apply is refused naming it; `memory.kernel` is accepted and ignored, as runc does.
 */

import { NsboxError } from '@nsbox/core';
import { blkioToWeight, sharesToWeight } from '@nsbox/runtime';
import type { BoxResources, CgroupManager, IoThrottle } from '@nsbox/runtime-api';
import { unsupported } from './spec-support.js';

type Json = Record<string, unknown>;

/** The owner name nsbox-runc declares `linux.resources` under. */
export const OCI_OWNER = 'oci';

export interface TranslatedResources {
  resources: BoxResources;
  /** Runtime knob ('memory.max') → the OCI field it came from ('linux.resources.memory.limit'), for errors. */
  fields: Record<string, string>;
  /** Fields accepted and ignored, as runc does (memory.kernel). */
  ignored: string[];
}

const CFS_PERIOD_US = 100_000;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new NsboxError('E_INVALID_CONFIG', `${field}: must be a number`, { details: { field } });
  }
  return value;
}

function set(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isObject(value)) return Object.keys(value).length > 0;
  return true;
}

function refuse(value: unknown, field: string, why: string): void {
  if (set(value)) throw unsupported(field, why);
}

function knownKeys(value: Json, field: string, keys: string[]): void {
  for (const key of Object.keys(value)) if (!keys.includes(key)) throw unsupported(`${field}.${key}`, 'nsbox-runc does not know this field');
}

/** A positive value is a limit; 0 and -1 (OCI's "unlimited") are none. */
function positive(value: unknown, field: string): number | undefined {
  const number = num(value, field);
  return number !== undefined && number > 0 ? number : undefined;
}

class Translation {
  readonly resources: BoxResources = {};
  readonly fields: Record<string, string> = {};
  readonly ignored: string[] = [];

  constructor(private readonly prefix: string) {}

  knob(key: string, field: string): void {
    this.fields[key] = `${this.prefix}.${field}`;
  }

  memory(memory: Json): void {
    const field = `${this.prefix}.memory`;
    knownKeys(memory, field, ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']);
    const target: NonNullable<BoxResources['memory']> = {};
    const limit = positive(memory.limit, `${field}.limit`);
    const reservation = positive(memory.reservation, `${field}.reservation`);
    const swap = positive(memory.swap, `${field}.swap`);
    if (limit !== undefined) {
      target.max = limit;
      this.knob('memory.max', 'memory.limit');
    }
    if (reservation !== undefined) {
      target.reservation = reservation;
      this.knob('memory.reservation', 'memory.reservation');
    }
    if (swap !== undefined) {
      // OCI's swap is memory + swap, as v1's memsw counts them.
      if (limit === undefined)
        throw new NsboxError('E_INVALID_CONFIG', `${field}.swap: memory+swap needs memory.limit too`, { details: { field: `${field}.swap` } });
      if (swap < limit) {
        throw new NsboxError('E_INVALID_CONFIG', `${field}.swap: ${swap} is memory+swap and must be at least memory.limit (${limit})`, {
          details: { field: `${field}.swap` },
        });
      }
      target.swap = swap - limit;
      this.knob('memory.swap', 'memory.swap');
    }
    if (memory.disableOOMKiller === true) {
      target.oomKillDisable = true;
      this.knob('memory.oomKillDisable', 'memory.disableOOMKiller');
    }
    // runc ignores kernel memory limits (gone from cgroup v2, deprecated on v1): so does nsbox-runc.
    if (set(memory.kernel)) this.ignored.push(`${field}.kernel`);
    refuse(memory.kernelTCP, `${field}.kernelTCP`, 'kernel TCP memory limits are not applied by nsbox-runc');
    refuse(memory.swappiness, `${field}.swappiness`, 'nsbox-runc does not set memory.swappiness');
    if (memory.useHierarchy === false) throw unsupported(`${field}.useHierarchy`, 'memory cgroups are always hierarchical on this kernel');
    refuse(memory.checkBeforeUpdate, `${field}.checkBeforeUpdate`, 'nsbox-runc does not compare an update with the usage');
    if (Object.keys(target).length > 0) this.resources.memory = target;
  }

  cpu(cpu: Json): void {
    const field = `${this.prefix}.cpu`;
    knownKeys(cpu, field, ['shares', 'quota', 'burst', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle']);
    const target: NonNullable<BoxResources['cpu']> = {};
    const shares = positive(cpu.shares, `${field}.shares`);
    const quota = positive(cpu.quota, `${field}.quota`);
    const period = positive(cpu.period, `${field}.period`);
    if (shares !== undefined) {
      target.weight = sharesToWeight(shares);
      this.knob('cpu.weight', 'cpu.shares');
    }
    if (quota !== undefined || period !== undefined) {
      if (quota !== undefined) target.quota = quota;
      target.period = period ?? CFS_PERIOD_US;
      this.knob('cpu.quota', quota !== undefined ? 'cpu.quota' : 'cpu.period');
    }
    if (typeof cpu.cpus === 'string' && cpu.cpus !== '') {
      target.cpus = cpu.cpus;
      this.knob('cpu.cpus', 'cpu.cpus');
    }
    if (typeof cpu.mems === 'string' && cpu.mems !== '') {
      target.mems = cpu.mems;
      this.knob('cpu.mems', 'cpu.mems');
    }
    const runtime = positive(cpu.realtimeRuntime, `${field}.realtimeRuntime`);
    const realtimePeriod = positive(cpu.realtimePeriod, `${field}.realtimePeriod`);
    if (runtime !== undefined || realtimePeriod !== undefined) {
      if (runtime !== undefined) target.realtimeRuntime = runtime;
      if (realtimePeriod !== undefined) target.realtimePeriod = realtimePeriod;
      this.knob('cpu.realtime', runtime !== undefined ? 'cpu.realtimeRuntime' : 'cpu.realtimePeriod');
    }
    refuse(cpu.burst, `${field}.burst`, 'nsbox-runc does not set cpu burst');
    refuse(cpu.idle, `${field}.idle`, 'nsbox-runc does not set cpu.idle');
    if (Object.keys(target).length > 0) this.resources.cpu = target;
  }

  pids(pids: Json): void {
    knownKeys(pids, `${this.prefix}.pids`, ['limit']);
    const limit = positive(pids.limit, `${this.prefix}.pids.limit`);
    if (limit === undefined) return;
    this.resources.pids = { max: limit };
    this.knob('pids.max', 'pids.limit');
  }

  blockIO(io: Json): void {
    const field = `${this.prefix}.blockIO`;
    knownKeys(io, field, [
      'weight',
      'leafWeight',
      'weightDevice',
      'throttleReadBpsDevice',
      'throttleWriteBpsDevice',
      'throttleReadIOPSDevice',
      'throttleWriteIOPSDevice',
    ]);
    const target: NonNullable<BoxResources['io']> = {};
    const weight = positive(io.weight, `${field}.weight`);
    if (weight !== undefined) {
      if (weight < 10 || weight > 1000)
        throw new NsboxError('E_INVALID_CONFIG', `${field}.weight: ${weight} is outside 10-1000`, { details: { field: `${field}.weight` } });
      target.weight = blkioToWeight(weight);
      this.knob('io.weight', 'blockIO.weight');
    }
    refuse(io.leafWeight, `${field}.leafWeight`, 'leaf weights belonged to the CFQ scheduler, which this kernel no longer has');
    refuse(io.weightDevice, `${field}.weightDevice`, 'nsbox-runc sets one IO weight for the box, not one per device');
    const entries = new Map<string, IoThrottle>();
    const throttles = [
      ['throttleReadBpsDevice', 'readBps'],
      ['throttleWriteBpsDevice', 'writeBps'],
      ['throttleReadIOPSDevice', 'readIops'],
      ['throttleWriteIOPSDevice', 'writeIops'],
    ] as const;
    for (const [key, rateField] of throttles) {
      if (io[key] === undefined || io[key] === null) continue;
      if (!Array.isArray(io[key])) throw new NsboxError('E_INVALID_CONFIG', `${field}.${key}: must be an array`, { details: { field: `${field}.${key}` } });
      (io[key] as unknown[]).forEach((item, index) => {
        const entryField = `${field}.${key}[${index}]`;
        if (!isObject(item)) throw new NsboxError('E_INVALID_CONFIG', `${entryField}: must be an object`, { details: { field: entryField } });
        const major = num(item.major, `${entryField}.major`);
        const minor = num(item.minor, `${entryField}.minor`);
        const rate = num(item.rate, `${entryField}.rate`);
        if (major === undefined || minor === undefined || rate === undefined) {
          throw new NsboxError('E_INVALID_CONFIG', `${entryField}: needs major, minor and rate`, { details: { field: entryField } });
        }
        if (rate === 0) return;
        const device = `${major}:${minor}`;
        const entry = entries.get(device) ?? { device };
        entry[rateField] = rate;
        entries.set(device, entry);
        this.knob(`io.throttle[${device}].${rateField}`, `blockIO.${key}[${index}]`);
      });
    }
    if (entries.size > 0) target.throttle = [...entries.values()];
    if (Object.keys(target).length > 0) this.resources.io = target;
  }

  hugepageLimits(limits: unknown): void {
    const field = `${this.prefix}.hugepageLimits`;
    if (!Array.isArray(limits)) throw new NsboxError('E_INVALID_CONFIG', `${field}: must be an array`, { details: { field } });
    const hugetlb: Record<string, number> = {};
    limits.forEach((item, index) => {
      const entryField = `${field}[${index}]`;
      if (!isObject(item) || typeof item.pageSize !== 'string') {
        throw new NsboxError('E_INVALID_CONFIG', `${entryField}: needs pageSize (such as '2MB') and limit`, { details: { field: entryField } });
      }
      const limit = num(item.limit, `${entryField}.limit`);
      if (limit === undefined) throw new NsboxError('E_INVALID_CONFIG', `${entryField}.limit: must be a number`, { details: { field: `${entryField}.limit` } });
      hugetlb[item.pageSize] = limit;
      this.knob(`hugetlb.${item.pageSize}`, `hugepageLimits[${index}]`);
    });
    if (Object.keys(hugetlb).length > 0) this.resources.hugetlb = hugetlb;
  }

  unified(unified: unknown): void {
    const field = `${this.prefix}.unified`;
    if (!isObject(unified)) throw new NsboxError('E_INVALID_CONFIG', `${field}: must be an object of cgroup2 files`, { details: { field } });
    const raw: Record<string, string> = {};
    for (const [file, value] of Object.entries(unified)) {
      if (typeof value !== 'string') throw new NsboxError('E_INVALID_CONFIG', `${field}.${file}: must be a string`, { details: { field: `${field}.${file}` } });
      raw[file] = value;
      this.knob(`unified.${file}`, `unified.${file}`);
    }
    if (Object.keys(raw).length > 0) this.resources.unified = raw;
  }
}

/**
 * The runtime resources of `linux.resources` (empty when nothing is limited). `prefix` names
 * the fields in errors. Shape errors are refused here; what the host cannot do is for
 * `checkResources`.
 */
export function translateResources(resources: unknown, prefix = 'linux.resources'): TranslatedResources {
  const translation = new Translation(prefix);
  if (resources === undefined || resources === null) return translation;
  if (!isObject(resources)) throw new NsboxError('E_INVALID_CONFIG', `${prefix}: must be an object`, { details: { field: prefix } });
  knownKeys(resources, prefix, ['devices', 'memory', 'cpu', 'pids', 'blockIO', 'hugepageLimits', 'network', 'rdma', 'unified']);
  if (isObject(resources.memory)) translation.memory(resources.memory);
  if (isObject(resources.cpu)) translation.cpu(resources.cpu);
  if (isObject(resources.pids)) translation.pids(resources.pids);
  if (isObject(resources.blockIO)) translation.blockIO(resources.blockIO);
  if (set(resources.hugepageLimits)) translation.hugepageLimits(resources.hugepageLimits);
  if (set(resources.unified)) translation.unified(resources.unified);
  refuse(resources.network, `${prefix}.network`, 'net_cls and net_prio are not managed by nsbox');
  refuse(resources.rdma, `${prefix}.rdma`, 'the rdma controller is not managed by nsbox');
  if (resources.devices !== undefined && !Array.isArray(resources.devices)) {
    throw new NsboxError('E_INVALID_CONFIG', `${prefix}.devices: must be an array`, { details: { field: `${prefix}.devices` } });
  }
  return translation;
}

/**
 * Refuses, before anything is made, a field this host cannot enforce, with the kernel's reason
 * (`name` may word a field as the command-line flag that set it). Bad values are refused too.
 */
export function checkResources(manager: CgroupManager, translated: TranslatedResources, name: (field: string) => string = (field) => field): void {
  let problems: ReturnType<CgroupManager['check']>;
  try {
    problems = manager.check(translated.resources);
  } catch (error) {
    const details = (error as NsboxError).details ?? {};
    const field = translated.fields[String(details['field'])];
    if (field === undefined || details['reason'] === undefined) throw error;
    throw new NsboxError('E_INVALID_CONFIG', `${name(field)}: ${details['reason']}`, { details: { field }, cause: error });
  }
  const [first] = problems;
  if (first) throw unsupported(name(translated.fields[first.knob] ?? first.knob), first.reason);
}

/**
 * The device rules runc appends after config.json's (a later rule wins): the default nodes
 * every box gets must stay usable even under a deny-all, and mknod is allowed (podman sends
 * only `deny a *:* rwm` and relies on this).
 */
export const defaultDeviceRules = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
] as const;
