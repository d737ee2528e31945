/**
 * Checks of a `limits` section against this host (CPUs that exist, rlimit ceilings, block
 * devices, controllers) and against a running box (what it already uses), made before
 * anything is written, so a refused change leaves the box as it was.
 */

import { formatCpuList } from '@nsbox/runtime-api';
import type { CgroupLimits, CgroupUsage } from './cgroup-limits.js';
import type { LimitsConfig } from './config-schema.js';
import { CAP_SYS_RESOURCE, type HostFacts } from './host-facts.js';
import type { LimitsHostSettings } from './host-settings.js';
import type { LimitProblem } from './problems.js';
import { type RlimitName, type RlimitPair, rlimitAtMost } from './rlimits.js';
import { formatSize } from './units.js';

export function hostProblems(config: LimitsConfig, facts: HostFacts, cgroups: CgroupLimits): LimitProblem[] {
  const problems: LimitProblem[] = [];
  const invalid = (field: string, message: string) => problems.push({ field: `limits.${field}`, kind: 'invalid', message });

  const cpus = facts.onlineCpus();
  if (config.cpuset !== undefined) {
    const missing = missingFrom(config.cpuset, cpus);
    if (missing.length > 0) invalid('cpuset', `CPU ${formatCpuList(missing)} does not exist on this host (it has ${formatCpuList(cpus)})`);
  }
  if (config.cpusetMems !== undefined) {
    const nodes = facts.onlineNodes();
    const missing = missingFrom(config.cpusetMems, nodes);
    if (missing.length > 0) invalid('cpusetMems', `memory node ${formatCpuList(missing)} does not exist on this host (it has ${formatCpuList(nodes)})`);
  }
  if (config.cpus !== undefined && config.cpus > cpus.length) invalid('cpus', `${config.cpus} is more CPUs than this host has (${cpus.length})`);

  if (config.rlimits && !facts.hasCapability(CAP_SYS_RESOURCE)) {
    const ceilings = facts.rlimitCeilings();
    for (const [name, pair] of Object.entries(config.rlimits) as [RlimitName, RlimitPair][]) {
      const ceiling = ceilings[name]?.hard;
      if (ceiling !== undefined && !rlimitAtMost(pair.hard, ceiling)) {
        invalid(
          `rlimits.${name}`,
          `hard limit ${pair.hard} is above this host's ceiling of ${ceiling}: raising a hard limit needs CAP_SYS_RESOURCE, which root lacks here`,
        );
      }
    }
  }

  const devices = new Map<string, string>();
  for (const [index, entry] of (config.io ?? []).entries()) {
    const device = facts.blockDevice(entry.device);
    if (!device) invalid(`io[${index}].device`, `${entry.device} is not a block device on this host`);
    else if (device.partition) invalid(`io[${index}].device`, `${entry.device} is a partition: IO throttles apply to whole disks`);
    else devices.set(entry.device, device.id);
  }

  for (const { field, reason } of cgroups.unsupported(config, devices))
    problems.push({ field: `limits.${field}`, kind: 'unsupported', message: `cannot be enforced: ${reason}` });
  return problems;
}

/**
 * What the admin caps in the host config (`settings.limits`): a box asking for more is
 * refused whoever asks, so the admin raises the cap rather than a box config lifting it.
 */
export function adminCapProblems(config: LimitsConfig, settings: LimitsHostSettings): LimitProblem[] {
  const problems: LimitProblem[] = [];
  const forbidden = (field: string, message: string) => problems.push({ field: `limits.${field}`, kind: 'forbidden', message });
  if (config.pids !== undefined && settings.maxPids !== null && config.pids > settings.maxPids) {
    forbidden('pids', `${config.pids} is above the admin's cap of ${settings.maxPids} (settings.limits.maxPids in the host config)`);
  }
  for (const [name, pair] of Object.entries(config.rlimits ?? {}) as [RlimitName, RlimitPair][]) {
    const cap = settings.maxRlimits[name];
    if (cap !== undefined && !rlimitAtMost(pair.hard, cap)) {
      forbidden(`rlimits.${name}`, `hard limit ${pair.hard} is above the admin's cap of ${cap} (settings.limits.maxRlimits.${name} in the host config)`);
    }
  }
  return problems;
}

/** A change on a running box: nothing may go below what the box already uses. */
export function liveProblems(
  boxName: string,
  config: LimitsConfig,
  usage: CgroupUsage | undefined,
  initLimits: Partial<Record<RlimitName, RlimitPair>> | undefined,
  facts: HostFacts,
): LimitProblem[] {
  const problems: LimitProblem[] = [];
  if (config.memory !== undefined && usage?.memory != null && config.memory < usage.memory) {
    problems.push({
      field: 'limits.memory',
      kind: 'invalid',
      message: `${formatSize(config.memory)} is below what box '${boxName}' uses now (${formatSize(usage.memory)})`,
    });
  }
  if (config.rlimits && initLimits && !facts.hasCapability(CAP_SYS_RESOURCE)) {
    for (const [name, pair] of Object.entries(config.rlimits) as [RlimitName, RlimitPair][]) {
      const current = initLimits[name]?.hard;
      if (current !== undefined && !rlimitAtMost(pair.hard, current)) {
        problems.push({
          field: `limits.rlimits.${name}`,
          kind: 'unsupported',
          message: `raising the hard limit of box '${boxName}' from ${current} to ${pair.hard} while it runs needs CAP_SYS_RESOURCE, which root lacks here: restart the box to apply it`,
        });
      }
    }
  }
  return problems;
}

function missingFrom(list: string, available: number[]): number[] {
  const have = new Set(available);
  const wanted: number[] = [];
  for (const part of list.split(',')) {
    const [first, last] = part.split('-').map(Number);
    for (let cpu = first as number; cpu <= (last ?? (first as number)); cpu++) wanted.push(cpu);
  }
  return wanted.filter((cpu) => !have.has(cpu));
}
