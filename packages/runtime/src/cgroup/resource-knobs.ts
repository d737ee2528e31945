/**
 * `BoxResources` as a flat list of knobs, each with the rule by which owners' values merge
 * (see runtime-api's resources.ts): ceilings (the strictest wins), sets (intersected) and
 * choices (one owner only). The cpu bandwidth and realtime pairs are one knob each, so a
 * quota never meets another owner's period. Values are checked here, naming the knob.
 */

import { NsboxError } from '@nsbox/core';
import { type BoxResources, formatCpuList, type IoThrottle, parseCpuList } from '@nsbox/runtime-api';

export type KnobKind = 'ceiling' | 'set' | 'choice';

/** A quota per period (cpu bandwidth, realtime runtime); no `limit` means no limit. */
export interface KnobPair {
  limit?: number;
  period?: number;
}

export type KnobValue = number | string | boolean | KnobPair;

export interface Knob {
  key: string;
  kind: KnobKind;
  value: KnobValue;
}

export const CFS_PERIOD_US = 100_000;
export const RT_PERIOD_US = 1_000_000;

const THROTTLE_FIELDS = ['readBps', 'writeBps', 'readIops', 'writeIops'] as const;
export type ThrottleField = (typeof THROTTLE_FIELDS)[number];

const DEVICE = /^\d+:\d+$/;
const PAGE_SIZE = /^\d+[KMG]B$/;
/** A cgroup2 file name: '<controller>.<name>', nothing that climbs out of the directory. */
const UNIFIED_KEY = /^[a-z0-9_]+\.[A-Za-z0-9_.-]+$/;
/** Core files that decide membership and structure: the runtime's alone. */
const RESERVED_UNIFIED = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.kill', 'cgroup.freeze', 'cgroup.type']);

function invalid(knob: string, owner: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_CONFIG', `resources of '${owner}': ${knob} ${message}`, { details: { field: knob, owner, reason: message } });
}

function count(value: unknown, knob: string, owner: string, minimum = 0, maximum = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw invalid(knob, owner, `must be a whole number from ${minimum} to ${maximum} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function cpuList(value: unknown, knob: string, owner: string): string {
  if (typeof value !== 'string') throw invalid(knob, owner, `must be a list such as '0-1,3' (got ${JSON.stringify(value)})`);
  try {
    return formatCpuList(parseCpuList(value));
  } catch (error) {
    throw invalid(knob, owner, (error as Error).message);
  }
}

export function throttleKey(device: string, field: ThrottleField): string {
  return `io.throttle[${device}].${field}`;
}

/** 'io.throttle[7:0].readBps' → ['7:0', 'readBps']. */
export function parseThrottleKey(key: string): [string, ThrottleField] | undefined {
  const match = /^io\.throttle\[(\d+:\d+)\]\.(\w+)$/.exec(key);
  return match ? [match[1] as string, match[2] as ThrottleField] : undefined;
}

/** The knobs of one owner's declaration; throws E_INVALID_CONFIG naming the first bad one. */
export function knobsOf(resources: BoxResources, owner: string): Knob[] {
  const knobs: Knob[] = [];
  const add = (key: string, kind: KnobKind, value: KnobValue | undefined) => {
    if (value !== undefined) knobs.push({ key, kind, value });
  };
  const { cpu, memory, pids, io, hugetlb, unified } = resources;
  if (cpu) {
    if (cpu.quota !== undefined || cpu.period !== undefined) {
      const pair: KnobPair = {};
      if (cpu.quota !== undefined) pair.limit = count(cpu.quota, 'cpu.quota', owner, 1000);
      if (cpu.period !== undefined) pair.period = count(cpu.period, 'cpu.period', owner, 1000, 1_000_000);
      add('cpu.quota', 'ceiling', pair);
    }
    if (cpu.burst !== undefined) add('cpu.burst', 'ceiling', count(cpu.burst, 'cpu.burst', owner, 0));
    if (cpu.weight !== undefined) add('cpu.weight', 'choice', count(cpu.weight, 'cpu.weight', owner, 1, 10_000));
    if (cpu.cpus !== undefined) add('cpu.cpus', 'set', cpuList(cpu.cpus, 'cpu.cpus', owner));
    if (cpu.mems !== undefined) add('cpu.mems', 'set', cpuList(cpu.mems, 'cpu.mems', owner));
    if (cpu.realtimeRuntime !== undefined || cpu.realtimePeriod !== undefined) {
      const pair: KnobPair = {};
      if (cpu.realtimeRuntime !== undefined) pair.limit = count(cpu.realtimeRuntime, 'cpu.realtimeRuntime', owner);
      if (cpu.realtimePeriod !== undefined) pair.period = count(cpu.realtimePeriod, 'cpu.realtimePeriod', owner, 1);
      if ((pair.limit ?? 0) > (pair.period ?? RT_PERIOD_US)) throw invalid('cpu.realtimeRuntime', owner, `${pair.limit} is longer than its period`);
      add('cpu.realtime', 'ceiling', pair);
    }
  }
  if (memory) {
    if (memory.max !== undefined) add('memory.max', 'ceiling', count(memory.max, 'memory.max', owner, 1));
    if (memory.high !== undefined) add('memory.high', 'ceiling', count(memory.high, 'memory.high', owner, 1));
    if (memory.swap !== undefined) add('memory.swap', 'ceiling', count(memory.swap, 'memory.swap', owner));
    if (memory.reservation !== undefined) add('memory.reservation', 'choice', count(memory.reservation, 'memory.reservation', owner));
    if (memory.minimum !== undefined) add('memory.minimum', 'choice', count(memory.minimum, 'memory.minimum', owner));
    if (memory.oomKillDisable !== undefined) {
      if (typeof memory.oomKillDisable !== 'boolean') throw invalid('memory.oomKillDisable', owner, 'must be true or false');
      add('memory.oomKillDisable', 'choice', memory.oomKillDisable);
    }
  }
  if (pids?.max !== undefined) add('pids.max', 'ceiling', count(pids.max, 'pids.max', owner, 1));
  if (io) {
    if (io.weight !== undefined) add('io.weight', 'choice', count(io.weight, 'io.weight', owner, 1, 10_000));
    const seen = new Set<string>();
    for (const [index, entry] of (io.throttle ?? []).entries()) knobs.push(...throttleKnobs(entry, index, owner, seen));
  }
  for (const [size, bytes] of Object.entries(hugetlb ?? {})) {
    if (!PAGE_SIZE.test(size)) throw invalid(`hugetlb.${size}`, owner, "is not a page size such as '2MB' or '1GB'");
    add(`hugetlb.${size}`, 'ceiling', count(bytes, `hugetlb.${size}`, owner));
  }
  for (const [file, value] of Object.entries(unified ?? {})) {
    const knob = `unified.${file}`;
    if (!UNIFIED_KEY.test(file) || file.includes('..')) throw invalid(knob, owner, "is not a cgroup2 file name such as 'memory.oom.group'");
    if (RESERVED_UNIFIED.has(file)) throw invalid(knob, owner, 'decides who is in the cgroup: only the runtime writes it');
    if (typeof value !== 'string') throw invalid(knob, owner, 'must be a string');
    add(knob, 'choice', value);
  }
  return knobs;
}

function throttleKnobs(entry: IoThrottle, index: number, owner: string, seen: Set<string>): Knob[] {
  const where = `io.throttle[${index}]`;
  if (typeof entry.device !== 'string' || !DEVICE.test(entry.device)) throw invalid(`${where}.device`, owner, "must be 'major:minor' such as '254:0'");
  if (seen.has(entry.device)) throw invalid(`${where}.device`, owner, `${entry.device} is listed twice`);
  seen.add(entry.device);
  return THROTTLE_FIELDS.filter((field) => entry[field] !== undefined).map((field) => ({
    key: throttleKey(entry.device, field),
    kind: 'ceiling' as const,
    value: count(entry[field], throttleKey(entry.device, field), owner, 1),
  }));
}

/** The strictness of a ceiling: lower is stricter (a pair by its share of the period). */
export function ceilingRank(key: string, value: KnobValue): number {
  if (typeof value === 'number') return value;
  const pair = value as KnobPair;
  if (pair.limit === undefined) return Number.POSITIVE_INFINITY;
  return pair.limit / (pair.period ?? (key === 'cpu.realtime' ? RT_PERIOD_US : CFS_PERIOD_US));
}

/** Merged knobs back into the `BoxResources` shape. */
export function resourcesOf(knobs: Map<string, KnobValue>): BoxResources {
  const resources: BoxResources = {};
  const cpu = () => (resources.cpu ??= {});
  const memory = () => (resources.memory ??= {});
  const throttles = new Map<string, IoThrottle>();
  for (const [key, value] of knobs) {
    const throttle = parseThrottleKey(key);
    if (throttle) {
      const [device, field] = throttle;
      const entry = throttles.get(device) ?? { device };
      entry[field] = value as number;
      throttles.set(device, entry);
    } else if (key === 'cpu.quota' || key === 'cpu.realtime') {
      const pair = value as KnobPair;
      const [limit, period] = key === 'cpu.quota' ? (['quota', 'period'] as const) : (['realtimeRuntime', 'realtimePeriod'] as const);
      if (pair.limit !== undefined) cpu()[limit] = pair.limit;
      if (pair.period !== undefined) cpu()[period] = pair.period;
    } else if (key === 'cpu.burst') cpu().burst = value as number;
    else if (key === 'cpu.weight') cpu().weight = value as number;
    else if (key === 'cpu.cpus') cpu().cpus = value as string;
    else if (key === 'cpu.mems') cpu().mems = value as string;
    else if (key === 'memory.oomKillDisable') memory().oomKillDisable = value as boolean;
    else if (key.startsWith('memory.')) memory()[key.slice(7) as 'max' | 'high' | 'swap' | 'reservation' | 'minimum'] = value as number;
    else if (key === 'pids.max') resources.pids = { max: value as number };
    else if (key === 'io.weight') resources.io = { ...resources.io, weight: value as number };
    else if (key.startsWith('hugetlb.')) resources.hugetlb = { ...resources.hugetlb, [key.slice(8)]: value as number };
    else if (key.startsWith('unified.')) resources.unified = { ...resources.unified, [key.slice(8)]: value as string };
  }
  if (throttles.size > 0) resources.io = { ...resources.io, throttle: [...throttles.values()] };
  return resources;
}
