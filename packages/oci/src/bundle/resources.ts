/**
 * `linux.resources` is carried out by the limits plugin: each OCI field becomes a field of
 * the box's `limits` section, which limits enforces on start and changes live on `update`.
 * `devices` stays in the spec (the compiler attaches it as a cgroup BPF program). A field
 * with no translation is refused, naming it.
 */

import { NsboxError } from '@nsbox/core';
import { unsupported } from './spec-support.js';

type Json = Record<string, unknown>;

/** The part of the limits plugin's config section nsbox-runc writes (plain numbers and strings). */
export interface LimitsSection {
  memory?: number;
  memoryHigh?: number;
  swap?: number;
  cpus?: number;
  cpuWeight?: number;
  cpuset?: string;
  cpusetMems?: string;
  pids?: number;
  io?: { device: string; readBps?: number; writeBps?: number; readIops?: number; writeIops?: number }[];
}

export interface ResourceHost {
  /** Whether the limits plugin is installed (and so can take the section). */
  limits: boolean;
  /** How the host runs the memory controller (OCI reservation maps to v1's soft limit). */
  memoryFlavor: 'v1' | 'v2' | undefined;
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

/** v2 weight from v1 shares, as the limits plugin and systemd map them. */
function sharesToWeight(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round((shares * 100) / 1024)));
}

/**
 * The limits section for `linux.resources` (undefined when nothing needs limiting).
 * `prefix` names the fields in errors ('linux.resources', or 'update' flags).
 */
export function resourcesToLimits(resources: unknown, host: ResourceHost, prefix = 'linux.resources'): LimitsSection | undefined {
  if (resources === undefined || resources === null) return undefined;
  if (!isObject(resources)) throw new NsboxError('E_INVALID_CONFIG', `${prefix}: must be an object`, { details: { field: prefix } });
  knownKeys(resources, prefix, ['devices', 'memory', 'cpu', 'pids', 'blockIO', 'hugepageLimits', 'network', 'rdma', 'unified']);
  const section: LimitsSection = {};
  const needLimits = (field: string) => {
    if (!host.limits) {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `${field} is not supported: resource limits are enforced by the limits plugin (@nsbox/plugin-limits), which is not installed`,
        {
          details: { field },
        },
      );
    }
  };

  if (isObject(resources.memory)) {
    const memory = resources.memory;
    const field = `${prefix}.memory`;
    knownKeys(memory, field, ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']);
    const limit = num(memory.limit, `${field}.limit`);
    const reservation = num(memory.reservation, `${field}.reservation`);
    const swap = num(memory.swap, `${field}.swap`);
    if (limit !== undefined && limit > 0) {
      needLimits(`${field}.limit`);
      section.memory = limit;
    }
    if (reservation !== undefined && reservation > 0) {
      needLimits(`${field}.reservation`);
      if (host.memoryFlavor === 'v2') throw unsupported(`${field}.reservation`, 'on cgroup v2 it is memory.low, which the limits plugin does not set');
      section.memoryHigh = reservation;
    }
    if (swap !== undefined && swap > 0) {
      needLimits(`${field}.swap`);
      if (section.memory === undefined)
        throw new NsboxError('E_INVALID_CONFIG', `${field}.swap: memory+swap needs memory.limit too`, { details: { field: `${field}.swap` } });
      if (swap < section.memory) {
        throw new NsboxError('E_INVALID_CONFIG', `${field}.swap: ${swap} is memory+swap and must be at least memory.limit (${section.memory})`, {
          details: { field: `${field}.swap` },
        });
      }
      section.swap = swap - section.memory;
    }
    refuse(memory.kernel, `${field}.kernel`, 'kernel memory limits are gone from cgroup v2 and deprecated on v1');
    refuse(memory.kernelTCP, `${field}.kernelTCP`, 'kernel memory limits are gone from cgroup v2 and deprecated on v1');
    refuse(memory.swappiness, `${field}.swappiness`, 'the limits plugin does not set memory.swappiness');
    refuse(memory.disableOOMKiller, `${field}.disableOOMKiller`, 'the limits plugin keeps the OOM killer on');
    if (memory.useHierarchy === false) throw unsupported(`${field}.useHierarchy`, 'memory cgroups are always hierarchical on this kernel');
    refuse(memory.checkBeforeUpdate, `${field}.checkBeforeUpdate`, 'the limits plugin checks every update against usage itself');
  }

  if (isObject(resources.cpu)) {
    const cpu = resources.cpu;
    const field = `${prefix}.cpu`;
    knownKeys(cpu, field, ['shares', 'quota', 'burst', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle']);
    const shares = num(cpu.shares, `${field}.shares`);
    const quota = num(cpu.quota, `${field}.quota`);
    const period = num(cpu.period, `${field}.period`) || CFS_PERIOD_US;
    if (shares !== undefined && shares > 0) {
      needLimits(`${field}.shares`);
      section.cpuWeight = sharesToWeight(shares);
    }
    if (quota !== undefined && quota > 0) {
      needLimits(`${field}.quota`);
      section.cpus = Math.round((quota / period) * 1000) / 1000;
    }
    if (typeof cpu.cpus === 'string' && cpu.cpus !== '') {
      needLimits(`${field}.cpus`);
      section.cpuset = cpu.cpus;
    }
    if (typeof cpu.mems === 'string' && cpu.mems !== '') {
      needLimits(`${field}.mems`);
      section.cpusetMems = cpu.mems;
    }
    refuse(cpu.burst, `${field}.burst`, 'the limits plugin does not set cpu burst');
    refuse(cpu.realtimeRuntime, `${field}.realtimeRuntime`, 'real-time CPU time is not limited by the limits plugin');
    refuse(cpu.realtimePeriod, `${field}.realtimePeriod`, 'real-time CPU time is not limited by the limits plugin');
    refuse(cpu.idle, `${field}.idle`, 'the limits plugin does not set cpu.idle');
  }

  if (isObject(resources.pids)) {
    knownKeys(resources.pids, `${prefix}.pids`, ['limit']);
    const limit = num(resources.pids.limit, `${prefix}.pids.limit`);
    if (limit !== undefined && limit > 0) {
      needLimits(`${prefix}.pids.limit`);
      section.pids = limit;
    }
  }

  if (isObject(resources.blockIO)) {
    const io = resources.blockIO;
    const field = `${prefix}.blockIO`;
    knownKeys(io, field, [
      'weight',
      'leafWeight',
      'weightDevice',
      'throttleReadBpsDevice',
      'throttleWriteBpsDevice',
      'throttleReadIOPSDevice',
      'throttleWriteIOPSDevice',
    ]);
    refuse(io.weight, `${field}.weight`, 'the limits plugin throttles IO but does not weigh it');
    refuse(io.leafWeight, `${field}.leafWeight`, 'the limits plugin throttles IO but does not weigh it');
    refuse(io.weightDevice, `${field}.weightDevice`, 'the limits plugin throttles IO but does not weigh it');
    const entries = new Map<string, NonNullable<LimitsSection['io']>[number]>();
    const throttles = [
      ['throttleReadBpsDevice', 'readBps'],
      ['throttleWriteBpsDevice', 'writeBps'],
      ['throttleReadIOPSDevice', 'readIops'],
      ['throttleWriteIOPSDevice', 'writeIops'],
    ] as const;
    for (const [key, target] of throttles) {
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
        needLimits(entryField);
        const device = `${major}:${minor}`;
        const entry = entries.get(device) ?? { device };
        entry[target] = rate;
        entries.set(device, entry);
      });
    }
    if (entries.size > 0) section.io = [...entries.values()];
  }

  refuse(resources.hugepageLimits, `${prefix}.hugepageLimits`, 'the limits plugin does not limit huge pages');
  refuse(resources.network, `${prefix}.network`, 'net_cls and net_prio are not managed by nsbox');
  refuse(resources.rdma, `${prefix}.rdma`, 'the rdma controller is not managed by nsbox');
  refuse(resources.unified, `${prefix}.unified`, 'raw cgroup v2 files are not written by nsbox-runc; use the typed fields');
  if (resources.devices !== undefined && !Array.isArray(resources.devices)) {
    throw new NsboxError('E_INVALID_CONFIG', `${prefix}.devices: must be an array`, { details: { field: `${prefix}.devices` } });
  }
  return Object.keys(section).length > 0 ? section : undefined;
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
