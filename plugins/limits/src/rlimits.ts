/**
 * rlimits by their short names (nofile, nproc, core...), mapped to the RLIMIT_* names the
 * OCI spec and the launcher use, with the units each one counts in.
 */

import type { OciRlimit } from '@nsbox/core';
import { parseCount, parseSize } from './units.js';

/** Short name → kernel name, and whether the limit counts bytes (so takes '512M'). */
export const rlimitNames = {
  cpu: { kernel: 'RLIMIT_CPU', bytes: false },
  fsize: { kernel: 'RLIMIT_FSIZE', bytes: true },
  data: { kernel: 'RLIMIT_DATA', bytes: true },
  stack: { kernel: 'RLIMIT_STACK', bytes: true },
  core: { kernel: 'RLIMIT_CORE', bytes: true },
  rss: { kernel: 'RLIMIT_RSS', bytes: true },
  nproc: { kernel: 'RLIMIT_NPROC', bytes: false },
  nofile: { kernel: 'RLIMIT_NOFILE', bytes: false },
  memlock: { kernel: 'RLIMIT_MEMLOCK', bytes: true },
  as: { kernel: 'RLIMIT_AS', bytes: true },
  locks: { kernel: 'RLIMIT_LOCKS', bytes: false },
  sigpending: { kernel: 'RLIMIT_SIGPENDING', bytes: false },
  msgqueue: { kernel: 'RLIMIT_MSGQUEUE', bytes: true },
  nice: { kernel: 'RLIMIT_NICE', bytes: false },
  rtprio: { kernel: 'RLIMIT_RTPRIO', bytes: false },
  rttime: { kernel: 'RLIMIT_RTTIME', bytes: false },
} as const;

export type RlimitName = keyof typeof rlimitNames;
export type RlimitValue = number | 'unlimited';
export interface RlimitPair {
  soft: RlimitValue;
  hard: RlimitValue;
}

/** The row titles of /proc/<pid>/limits, which is where the kernel shows them. */
export const procLimitsTitles: Record<RlimitName, string> = {
  cpu: 'Max cpu time',
  fsize: 'Max file size',
  data: 'Max data size',
  stack: 'Max stack size',
  core: 'Max core file size',
  rss: 'Max resident set',
  nproc: 'Max processes',
  nofile: 'Max open files',
  memlock: 'Max locked memory',
  as: 'Max address space',
  locks: 'Max file locks',
  sigpending: 'Max pending signals',
  msgqueue: 'Max msgqueue size',
  nice: 'Max nice priority',
  rtprio: 'Max realtime priority',
  rttime: 'Max realtime timeout',
};

export function isRlimitName(name: string): name is RlimitName {
  return Object.hasOwn(rlimitNames, name);
}

export function parseRlimitValue(name: RlimitName, value: unknown): RlimitValue {
  if (value === 'unlimited' || value === 'infinity') return 'unlimited';
  return rlimitNames[name].bytes ? parseSize(value) : parseCount(value);
}

/** a ≤ b, with 'unlimited' above every number. */
export function rlimitAtMost(a: RlimitValue, b: RlimitValue): boolean {
  if (b === 'unlimited') return true;
  if (a === 'unlimited') return false;
  return a <= b;
}

/** The lower of two limits, 'unlimited' above every number. */
export function rlimitMin(a: RlimitValue, b: RlimitValue): RlimitValue {
  return rlimitAtMost(a, b) ? a : b;
}

/**
 * The rlimits a box's init gets: the ones its section sets, and each rlimit the admin caps
 * that it does not set, held to the cap (what this process has, lowered to the cap where
 * it is above; a cap of 'unlimited' leaves init what it inherits). An rlimit the spec already carries (an OCI bundle's own, written by the
 * host's root) is left to the spec.
 */
export function boxRlimits(
  own: Partial<Record<RlimitName, RlimitPair>> | undefined,
  caps: Partial<Record<RlimitName, RlimitValue>>,
  inherited: Partial<Record<RlimitName, RlimitPair>>,
  inSpec: readonly OciRlimit[] = [],
): Partial<Record<RlimitName, RlimitPair>> {
  const result: Partial<Record<RlimitName, RlimitPair>> = {};
  for (const [name, cap] of Object.entries(caps) as [RlimitName, RlimitValue][]) {
    if (cap === 'unlimited' || own?.[name] || inSpec.some((limit) => limit.type === rlimitNames[name].kernel)) continue;
    const current = inherited[name] ?? { soft: cap, hard: cap };
    result[name] = { soft: rlimitMin(current.soft, cap), hard: rlimitMin(current.hard, cap) };
  }
  return { ...result, ...own };
}

/** The OCI entries for a box: ours replace any the spec already had for the same limit. */
export function mergeSpecRlimits(existing: readonly OciRlimit[], limits: Partial<Record<RlimitName, RlimitPair>>): OciRlimit[] {
  const ours = Object.entries(limits).map(([name, pair]) => ({
    type: rlimitNames[name as RlimitName].kernel,
    soft: toOciValue(pair.soft),
    hard: toOciValue(pair.hard),
  }));
  const replaced = new Set<string>(ours.map((limit) => limit.type));
  return [...existing.filter((limit) => !replaced.has(limit.type)), ...ours];
}

/** RLIM_INFINITY as the OCI spec writes it (runc takes the all-ones uint64). */
export const RLIM_INFINITY = 2 ** 64 - 1;

function toOciValue(value: RlimitValue): number {
  return value === 'unlimited' ? RLIM_INFINITY : value;
}

/** Parses /proc/<pid>/limits into soft and hard values per short name. */
export function parseProcLimits(text: string): Partial<Record<RlimitName, RlimitPair>> {
  const result: Partial<Record<RlimitName, RlimitPair>> = {};
  for (const [name, title] of Object.entries(procLimitsTitles) as [RlimitName, string][]) {
    const line = text.split('\n').find((row) => row.startsWith(title));
    if (!line) continue;
    const [soft, hard] = line.slice(title.length).trim().split(/\s+/);
    const value = (field: string | undefined): RlimitValue => (field === 'unlimited' ? 'unlimited' : Number(field));
    result[name] = { soft: value(soft), hard: value(hard) };
  }
  return result;
}
