/**
 * `update`: new `linux.resources` for a box, declared again as the owner 'oci' to the
 * runtime's cgroup manager, which writes only the files whose merged value changed (and
 * puts the last declaration back if the kernel refuses one). What this host cannot enforce
 * is refused first, with the kernel's reason. --resources takes an OCI LinuxResources
 * document ('-': the caller's stdin).
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { ociFacts } from '../box/oci-driver.js';
import { ociStatus } from '../box/oci-state.js';
import { checkResources, OCI_OWNER, translateResources } from '../bundle/resources.js';
import type { CommandContext } from './context.js';

export interface UpdateOptions {
  resources?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  cpuShare?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

type Json = Record<string, unknown>;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, g: 2 ** 30, gb: 2 ** 30, t: 2 ** 40, tb: 2 ** 40 };

/** runc's sizes: bytes, or a number with k, m, g, t (binary); -1 for no limit. */
function size(text: string, flag: string): number {
  if (text === '-1') return -1;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?b?)$/i.exec(text.trim());
  if (!match) throw new NsboxError('E_INVALID_ARGUMENT', `invalid value for ${flag}: '${text}'`, { details: { field: flag } });
  return Math.floor(Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1));
}

function int(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text)) throw new NsboxError('E_INVALID_ARGUMENT', `invalid value for ${flag}: '${text}'`, { details: { field: flag } });
  return Number(text);
}

function readResources(context: CommandContext, file: string): Json {
  const path = file === '-' ? `/proc/${context.caller.request.pid}/fd/0` : resolve(context.cwd, file);
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Json;
  } catch (error) {
    throw new NsboxError('E_INVALID_ARGUMENT', `--resources ${file}: ${(error as Error).message}`, { details: { field: '--resources' } });
  }
}

function section(target: Json, key: string): Json {
  const value = target[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  const fresh: Json = {};
  target[key] = fresh;
  return fresh;
}

/** The OCI field each flag sets (to name the flag in a refusal). */
const FLAG_FIELDS: [keyof UpdateOptions, string, string][] = [
  ['memory', 'memory.limit', '--memory'],
  ['memoryReservation', 'memory.reservation', '--memory-reservation'],
  ['memorySwap', 'memory.swap', '--memory-swap'],
  ['kernelMemory', 'memory.kernel', '--kernel-memory'],
  ['cpuShare', 'cpu.shares', '--cpu-share'],
  ['cpuQuota', 'cpu.quota', '--cpu-quota'],
  ['cpuPeriod', 'cpu.period', '--cpu-period'],
  ['cpusetCpus', 'cpu.cpus', '--cpuset-cpus'],
  ['cpusetMems', 'cpu.mems', '--cpuset-mems'],
  ['cpuRtRuntime', 'cpu.realtimeRuntime', '--cpu-rt-runtime'],
  ['cpuRtPeriod', 'cpu.realtimePeriod', '--cpu-rt-period'],
  ['pidsLimit', 'pids.limit', '--pids-limit'],
  ['blkioWeight', 'blockIO.weight', '--blkio-weight'],
];

/** The flags as a LinuxResources document. */
function fromFlags(options: UpdateOptions): Json {
  const resources: Json = {};
  const refused: [keyof UpdateOptions, string, string][] = [
    ['kernelMemoryTcp', '--kernel-memory-tcp', 'kernel TCP memory limits are not applied by nsbox-runc'],
    ['l3CacheSchema', '--l3-cache-schema', 'Intel RDT (resctrl) is not managed by nsbox'],
    ['memBwSchema', '--mem-bw-schema', 'Intel RDT (resctrl) is not managed by nsbox'],
  ];
  for (const [key, flag, why] of refused) {
    if (options[key] !== undefined) throw new NsboxError('E_UNSUPPORTED', `${flag} is not supported: ${why}`, { details: { field: flag } });
  }
  if (options.memory !== undefined) section(resources, 'memory').limit = size(options.memory, '--memory');
  if (options.memoryReservation !== undefined) section(resources, 'memory').reservation = size(options.memoryReservation, '--memory-reservation');
  if (options.memorySwap !== undefined) section(resources, 'memory').swap = size(options.memorySwap, '--memory-swap');
  if (options.kernelMemory !== undefined) section(resources, 'memory').kernel = size(options.kernelMemory, '--kernel-memory');
  if (options.cpuShare !== undefined) section(resources, 'cpu').shares = int(options.cpuShare, '--cpu-share');
  if (options.cpuQuota !== undefined) section(resources, 'cpu').quota = int(options.cpuQuota, '--cpu-quota');
  if (options.cpuPeriod !== undefined) section(resources, 'cpu').period = int(options.cpuPeriod, '--cpu-period');
  if (options.cpusetCpus !== undefined) section(resources, 'cpu').cpus = options.cpusetCpus;
  if (options.cpusetMems !== undefined) section(resources, 'cpu').mems = options.cpusetMems;
  if (options.cpuRtRuntime !== undefined) section(resources, 'cpu').realtimeRuntime = int(options.cpuRtRuntime, '--cpu-rt-runtime');
  if (options.cpuRtPeriod !== undefined) section(resources, 'cpu').realtimePeriod = int(options.cpuRtPeriod, '--cpu-rt-period');
  if (options.pidsLimit !== undefined) section(resources, 'pids').limit = int(options.pidsLimit, '--pids-limit');
  if (options.blkioWeight !== undefined) section(resources, 'blockIO').weight = int(options.blkioWeight, '--blkio-weight');
  return resources;
}

/** Each given field replaces the current one; what is not given stays. */
function merge(current: Json, changes: Json): Json {
  const merged: Json = structuredClone(current);
  for (const [key, value] of Object.entries(changes)) {
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof merged[key] === 'object' &&
      merged[key] !== null &&
      !Array.isArray(merged[key])
    ) {
      merged[key] = { ...(merged[key] as Json), ...(value as Json) };
    } else merged[key] = value;
  }
  return merged;
}

export async function updateContainer(context: CommandContext, id: string, options: UpdateOptions): Promise<void> {
  const { runtime } = context;
  await runtime.locks.with(id, async () => {
    const box = await runtime.get(id);
    const status = ociStatus(box);
    if (status === 'stopped') throw new NsboxError('E_INVALID_STATE', `cannot update container ${id}: it is stopped`, { details: { id, status } });
    const facts = ociFacts(box);
    const changes = merge(options.resources ? readResources(context, options.resources) : {}, fromFlags(options));
    const resources = merge((facts.spec.linux.resources ?? {}) as Json, changes);
    const translated = translateResources(resources);
    // A field the flags set is named as the flag.
    const flagOf = (field: string) => FLAG_FIELDS.find(([key, path]) => options[key] !== undefined && field === `linux.resources.${path}`)?.[2] ?? field;
    checkResources(runtime.driver.resources, translated, flagOf);
    for (const field of translated.ignored) context.log.warn(`${flagOf(field)} is ignored: kernel memory limits are gone from cgroup v2 and deprecated on v1`);
    runtime.driver.resources.apply(box, OCI_OWNER, translated.resources);
    const spec = { ...facts.spec, linux: { ...facts.spec.linux, resources } };
    box.runtime = { ...box.runtime, oci: { ...facts, spec } };
    box.updatedAt = Date.now();
    runtime.host.store.update(box);
  });
}
