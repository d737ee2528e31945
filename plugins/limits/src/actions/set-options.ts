/**
 * `nsbox set` options → a new `limits` section: the box's current section with the given
 * fields replaced. 'unlimited' (or 'none', 'max') removes a limit. Values stay as typed:
 * the schema parses them, so the CLI and a config file give the same errors.
 */

import { NsboxError } from '@nsbox/core';
import type { LimitsConfig } from '../config-schema.js';

/** CLI option (commander's camelCase) → config field, for the scalar limits. */
export const scalarOptions = {
  cpus: { flag: '--cpus <n>', description: 'CPU time as a fraction of CPUs (0.5, 1.5)' },
  cpuWeight: { flag: '--cpu-weight <n>', description: 'relative CPU weight when contended, 1-10000 (default 100)' },
  cpuset: { flag: '--cpuset <cpus>', description: "CPUs the box may use ('0-1', '0,2')" },
  cpusetMems: { flag: '--cpuset-mems <nodes>', description: 'memory nodes the box may use' },
  memory: { flag: '--memory <size>', description: 'hard memory limit (512M, 2G)' },
  memoryHigh: { flag: '--memory-high <size>', description: 'memory throttle point' },
  swap: { flag: '--swap <size>', description: 'swap on top of memory' },
  pids: { flag: '--pids <n>', description: 'most processes and threads' },
  disk: { flag: '--disk <size>', description: 'disk space of the root filesystem (5G)' },
  inodes: { flag: '--inodes <n>', description: 'inodes (files) of the root filesystem (100k)' },
  pool: { flag: '--pool <name>', description: "pool for the box's disk image (nsbox pool create)" },
} as const;

const REMOVE = new Set(['unlimited', 'none', 'max']);
const IO_KEYS = { rbps: 'readBps', wbps: 'writeBps', riops: 'readIops', wiops: 'writeIops' } as const;

type Section = Record<string, unknown>;

export function mergeLimitOptions(current: LimitsConfig | undefined, options: Record<string, unknown>): Section {
  const next: Section = options.reset ? {} : structuredClone((current ?? {}) as Section);
  for (const field of Object.keys(scalarOptions)) {
    const value = options[field];
    if (value === undefined) continue;
    if (typeof value === 'string' && REMOVE.has(value.toLowerCase())) delete next[field];
    else next[field] = value;
  }
  if (options.rlimit !== undefined) mergeRlimits(next, asList(options.rlimit));
  if (options.io !== undefined) mergeIo(next, asList(options.io));
  return next;
}

function asList(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `nofile=1024:4096`, `core=0`, `nproc=unlimited`; `nofile=-` removes it. */
function mergeRlimits(next: Section, specs: string[]): void {
  const rlimits = { ...((next.rlimits as Section | undefined) ?? {}) };
  for (const spec of specs) {
    const match = /^([a-z]+)=(.+)$/.exec(spec.trim());
    if (!match) throw new NsboxError('E_INVALID_ARGUMENT', `--rlimit '${spec}': use NAME=SOFT:HARD or NAME=VALUE (nofile=1024:4096), or NAME=- to remove`);
    const [, name, value] = match as unknown as [string, string, string];
    if (value === '-') {
      delete rlimits[name];
      continue;
    }
    const [soft, hard] = value.split(':');
    rlimits[name] = hard === undefined ? soft : { soft, hard };
  }
  if (Object.keys(rlimits).length > 0) next.rlimits = rlimits;
  else delete next.rlimits;
}

/** `/dev/vdb,wbps=10M,riops=500` (keys as in io.max: rbps wbps riops wiops); `DEVICE,none` removes it. */
function mergeIo(next: Section, specs: string[]): void {
  const entries = [...((next.io as Section[] | undefined) ?? [])].map((entry) => ({ ...entry }));
  for (const spec of specs) {
    const [device, ...settings] = spec.split(',').map((part) => part.trim());
    if (!device || settings.length === 0) {
      throw new NsboxError(
        'E_INVALID_ARGUMENT',
        `--io '${spec}': use DEVICE,KEY=VALUE,... with keys rbps, wbps, riops, wiops (/dev/vdb,wbps=10M), or DEVICE,none`,
      );
    }
    const index = entries.findIndex((entry) => entry.device === device);
    if (settings.length === 1 && REMOVE.has((settings[0] as string).toLowerCase())) {
      if (index >= 0) entries.splice(index, 1);
      continue;
    }
    const entry: Section = index >= 0 ? (entries[index] as Section) : { device };
    for (const setting of settings) {
      const [key, value] = setting.split('=');
      const field = IO_KEYS[key as keyof typeof IO_KEYS];
      if (!field || value === undefined || value === '') {
        throw new NsboxError('E_INVALID_ARGUMENT', `--io '${spec}': '${setting}' is not KEY=VALUE with a key among rbps, wbps, riops, wiops`);
      }
      if (REMOVE.has(value.toLowerCase())) delete entry[field];
      else entry[field] = value;
    }
    if (index < 0) entries.push(entry);
  }
  const kept = entries.filter((entry) => Object.keys(entry).length > 1);
  if (kept.length > 0) next.io = kept;
  else delete next.io;
}
