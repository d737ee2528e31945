/**
 * A box's CPU, IO and memory shares through the runtime's arbitration: declared under the
 * owner 'sharing' once the box's cgroup exists and again on a live change, merged by the
 * runtime with what limits (the hard caps) and any other owner declare — the strictest quota
 * holds, so a fill rate never lifts a cap and a cap never erases a weight. What this host
 * cannot enforce is refused before anything is made, naming the field.
 */

import { type Box, NsboxError } from '@nsbox/core';
import type { BoxResources, CgroupManager } from '@nsbox/runtime-api';
import type { BiasRegistry } from './bias-controller.js';
import { type SharingConfig, sharingConfigSchema } from './config-schema.js';
import { OWNER } from './owner.js';
import { fieldOfKnob, hasShares, shareResources } from './shares.js';
import { bucketSize } from './token-bucket.js';
import { formatSize } from './units.js';

type ShareBox = Pick<Box, 'id' | 'name' | 'state'>;

export class ShareService {
  constructor(
    private readonly cgroups: CgroupManager,
    private readonly bias: BiasRegistry,
  ) {}

  /** What this host cannot enforce of the section, refused naming the field. */
  validate(box: ShareBox, config: SharingConfig | undefined): void {
    const resources = shareResources(config);
    if (!hasShares(resources)) return;
    const [problem] = this.cgroups.check(resources);
    if (problem) {
      const field = fieldOfKnob(problem.knob);
      throw new NsboxError('E_UNSUPPORTED', `${field}: box '${box.name}' cannot have it on this host: ${problem.reason}`, {
        details: { field, box: box.name, reason: problem.reason },
      });
    }
  }

  /** The box's cgroup exists: its shares are declared (with the bias's weight when it has one). */
  configure(box: ShareBox, config: SharingConfig | undefined): void {
    const record = config ? this.bias.watch(box.id, config) : undefined;
    const resources = shareResources(config, record?.weight);
    if (hasShares(resources)) this.cgroups.apply(box, OWNER, resources);
  }

  /** A live change: the new shares are declared, or sharing's declaration withdrawn when none are left. */
  update(box: ShareBox, config: SharingConfig | undefined): void {
    this.validate(box, config);
    const record = config ? this.bias.watch(box.id, config) : undefined;
    if (!config) this.bias.forget(box.id);
    const resources = shareResources(config, record?.weight);
    if (hasShares(resources)) this.cgroups.apply(box, OWNER, resources);
    else this.cgroups.withdraw(box, OWNER);
  }

  /** The undo of a live change that failed later: the previous section declared again. */
  restore(box: ShareBox, previous: unknown): void {
    const config = previous === undefined || previous === null ? undefined : sharingConfigSchema.parse(previous);
    this.update(box, config);
  }

  stopped(box: ShareBox): void {
    this.bias.forget(box.id);
  }

  /** Configured and enforced, with the owner of each knob sharing asks for. */
  describe(box: Pick<Box, 'id' | 'state'>, config: SharingConfig | undefined): Record<string, unknown> {
    const configured = configuredView(config);
    const live = box.state === 'running' || box.state === 'paused';
    if (!live) return { configured };
    const effective = this.cgroups.effective(box);
    const desired = safeDesired(this.cgroups, box);
    const asked = shareResources(config);
    const owners: Record<string, string[]> = {};
    for (const knob of knobsOf(asked)) owners[knob] = desired?.owners[knob]?.owners ?? [];
    const record = this.bias.get(box.id);
    const cpu = config?.cpu;
    return {
      configured,
      enforced: effective ? enforcedView(effective) : undefined,
      owners,
      ...(record && cpu
        ? { bias: { weight: record.weight, tokensMs: Math.round(record.bucket.tokens), bucketMs: bucketSize(cpu), drained: record.bucket.drained } }
        : {}),
    };
  }
}

function safeDesired(cgroups: CgroupManager, box: Pick<Box, 'id'>) {
  try {
    return cgroups.desired(box);
  } catch {
    return undefined; // a conflict: apply refused it already, naming both owners
  }
}

/** The knob names (as the arbitration names them) of a declaration. */
function knobsOf(resources: BoxResources): string[] {
  const knobs: string[] = [];
  if (resources.cpu?.quota !== undefined) knobs.push('cpu.quota');
  if (resources.cpu?.burst !== undefined) knobs.push('cpu.burst');
  if (resources.cpu?.weight !== undefined) knobs.push('cpu.weight');
  if (resources.io?.weight !== undefined) knobs.push('io.weight');
  if (resources.memory?.reservation !== undefined) knobs.push('memory.reservation');
  return knobs;
}

function configuredView(config: SharingConfig | undefined): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  if (config?.cpu) view.cpu = config.cpu;
  if (config?.io) view.io = config.io;
  if (config?.memory) view.memory = { guarantee: formatSize(config.memory.guarantee) };
  return view;
}

function enforcedView(effective: BoxResources): Record<string, unknown> {
  const cpu = effective.cpu;
  return {
    cpu: {
      ...(cpu?.quota !== undefined ? { fillRateMs: cpu.quota / 1000, intervalMs: (cpu.period ?? 100_000) / 1000 } : {}),
      ...(cpu?.burst !== undefined ? { bucketMs: cpu.burst / 1000 } : {}),
      ...(cpu?.weight !== undefined ? { weight: cpu.weight } : {}),
    },
    ...(effective.io?.weight !== undefined ? { io: { weight: effective.io.weight } } : {}),
    ...(effective.memory?.reservation !== undefined ? { memory: { guarantee: formatSize(effective.memory.reservation) } } : {}),
  };
}
