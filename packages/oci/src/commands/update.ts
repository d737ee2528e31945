/**
 * `update`: new `linux.resources` for a box, applied live by the limits plugin through the
 * core's update (which checks the whole change first and puts the old limits back if a
 * write fails). --resources takes an OCI LinuxResources document ('-': the caller's stdin).
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { ociFacts } from '../box/oci-driver.js';
import { ociStatus } from '../box/oci-state.js';
import { resourcesToLimits } from '../bundle/resources.js';
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

/** The flags as a LinuxResources document. */
function fromFlags(options: UpdateOptions): Json {
  const resources: Json = {};
  const refused: [keyof UpdateOptions, string][] = [
    ['blkioWeight', '--blkio-weight'],
    ['kernelMemory', '--kernel-memory'],
    ['kernelMemoryTcp', '--kernel-memory-tcp'],
    ['cpuRtPeriod', '--cpu-rt-period'],
    ['cpuRtRuntime', '--cpu-rt-runtime'],
    ['l3CacheSchema', '--l3-cache-schema'],
    ['memBwSchema', '--mem-bw-schema'],
  ];
  for (const [key, flag] of refused) {
    if (options[key] !== undefined)
      throw new NsboxError('E_UNSUPPORTED', `${flag} is not supported by nsbox-runc (no limits plugin field for it)`, { details: { field: flag } });
  }
  if (options.memory !== undefined) section(resources, 'memory').limit = size(options.memory, '--memory');
  if (options.memoryReservation !== undefined) section(resources, 'memory').reservation = size(options.memoryReservation, '--memory-reservation');
  if (options.memorySwap !== undefined) section(resources, 'memory').swap = size(options.memorySwap, '--memory-swap');
  if (options.cpuShare !== undefined) section(resources, 'cpu').shares = int(options.cpuShare, '--cpu-share');
  if (options.cpuQuota !== undefined) section(resources, 'cpu').quota = int(options.cpuQuota, '--cpu-quota');
  if (options.cpuPeriod !== undefined) section(resources, 'cpu').period = int(options.cpuPeriod, '--cpu-period');
  if (options.cpusetCpus !== undefined) section(resources, 'cpu').cpus = options.cpusetCpus;
  if (options.cpusetMems !== undefined) section(resources, 'cpu').mems = options.cpusetMems;
  if (options.pidsLimit !== undefined) section(resources, 'pids').limit = int(options.pidsLimit, '--pids-limit');
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
    const layout = runtime.cgroups.layout;
    const limits = resourcesToLimits(resources, {
      limits: runtime.limitsInstalled,
      memoryFlavor: layout.v1.memory ? 'v1' : layout.unifiedControllers.includes('memory') ? 'v2' : undefined,
    });
    const updated = await runtime.manager.update(box.id, { limits: limits ?? null });
    const spec = { ...facts.spec, linux: { ...facts.spec.linux, resources } };
    updated.runtime = { ...updated.runtime, oci: { ...facts, spec } };
    updated.updatedAt = Date.now();
    runtime.host.store.update(updated);
  });
}
