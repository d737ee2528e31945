/**
 * A box's CPU, IO and memory shares through the runtime's arbitration: declared under the
 * owner 'sharing' once the box's cgroup exists and again on a live change, merged by the
 * runtime with what limits (the hard caps) and any other owner declare — the strictest quota
 * holds, so a fill rate never lifts a cap and a cap never erases a weight. What this host
 * cannot enforce is refused before anything is made, naming the field.
 */

import { type Box, NsboxError } from '@nsbox/core';
import type { BoxResources, CgroupManager } from '@nsbox/runtime-api';
import { diskUnder, namedDisk } from './block-device.js';
import { type SharingConfig, sharingConfigSchema } from './config-schema.js';
import { freshIoBurst, type IoBurstState } from './io-burst.js';
import { OWNER } from './owner.js';
import type { ShareRegistry } from './share-registry.js';
import { fieldOfKnob, hasShares, shareResources } from './shares.js';
import { bucketSize } from './token-bucket.js';
import { formatSize } from './units.js';

type ShareBox = Pick<Box, 'id' | 'name' | 'state'>;

/** A running box's root mount point (host side): where the IO burst's disk is found. */
export type OwnFiles = () => string;

const BURST_FIELD = 'sharing.io.burst.device';

export class ShareService {
  constructor(
    private readonly cgroups: CgroupManager,
    private readonly registry: ShareRegistry,
  ) {}

  /** What this host cannot enforce of the section, refused naming the field. */
  validate(box: ShareBox, config: SharingConfig | undefined): void {
    const burst = config?.io?.burst;
    // The box's own disk is known once it runs; a named one is checked now, with a throttle on it.
    const disk = burst?.device !== undefined ? namedDisk(burst.device, BURST_FIELD) : undefined;
    const resources = shareResources(config, disk && burst ? { io: freshIoBurst(burst, disk) } : {});
    if (!hasShares(resources)) return;
    const [problem] = this.cgroups.check(resources);
    if (problem) {
      const field = fieldOfKnob(problem.knob);
      throw new NsboxError('E_UNSUPPORTED', `${field}: box '${box.name}' cannot have it on this host: ${problem.reason}`, {
        details: { field, box: box.name, reason: problem.reason },
      });
    }
  }

  /** The box's cgroup exists: its shares are declared (with the bias's weight and the IO burst's throttle when it has them). */
  configure(box: ShareBox, config: SharingConfig | undefined, ownFiles: OwnFiles): void {
    const resources = this.watch(box, config, ownFiles);
    if (hasShares(resources)) this.cgroups.apply(box, OWNER, resources);
  }

  /** A live change: the new shares are declared, or sharing's declaration withdrawn when none are left. */
  update(box: ShareBox, config: SharingConfig | undefined, ownFiles: OwnFiles): void {
    this.validate(box, config);
    const resources = this.watch(box, config, ownFiles);
    if (hasShares(resources)) this.cgroups.apply(box, OWNER, resources);
    else this.cgroups.withdraw(box, OWNER);
  }

  /** What the controllers should watch of the box from now on, and sharing's resources with their state. */
  private watch(box: ShareBox, config: SharingConfig | undefined, ownFiles: OwnFiles): ReturnType<typeof shareResources> {
    if (!config) {
      this.registry.forget(box.id);
      return {};
    }
    const burst = config.io?.burst;
    const disk = burst ? (burst.device !== undefined ? namedDisk(burst.device, BURST_FIELD) : diskUnder(ownFiles(), BURST_FIELD)) : undefined;
    const record = this.registry.watch(box.id, config, disk);
    return shareResources(config, { weight: record?.weight, io: record?.io });
  }

  /** The undo of a live change that failed later: the previous section declared again. */
  restore(box: ShareBox, previous: unknown, ownFiles: OwnFiles): void {
    const config = previous === undefined || previous === null ? undefined : sharingConfigSchema.parse(previous);
    this.update(box, config, ownFiles);
  }

  stopped(box: ShareBox): void {
    this.registry.forget(box.id);
  }

  /** Configured and enforced, with the owner of each knob sharing asks for. */
  describe(box: Pick<Box, 'id' | 'state'>, config: SharingConfig | undefined): Record<string, unknown> {
    const configured = configuredView(config);
    const live = box.state === 'running' || box.state === 'paused';
    if (!live) return { configured };
    const effective = this.cgroups.effective(box);
    const desired = safeDesired(this.cgroups, box);
    const asked = shareResources(config, { io: this.registry.get(box.id)?.io });
    const owners: Record<string, string[]> = {};
    for (const knob of knobsOf(asked)) owners[knob] = desired?.owners[knob]?.owners ?? [];
    const record = this.registry.get(box.id);
    const cpu = config?.cpu;
    const burst = config?.io?.burst;
    return {
      configured,
      enforced: effective ? enforcedView(effective) : undefined,
      owners,
      ...(record?.bucket && cpu
        ? { bias: { weight: record.weight, tokensMs: Math.round(record.bucket.tokens), bucketMs: bucketSize(cpu), drained: record.bucket.drained } }
        : {}),
      ...(record?.io && burst ? { ioBurst: ioBurstView(record.io) } : {}),
    };
  }
}

function ioBurstView(io: IoBurstState): Record<string, unknown> {
  const level = (entry: IoBurstState['read']) => entry && { tokens: formatSize(Math.round(entry.tokens)), drained: entry.drained };
  return { device: io.device, ...(io.read ? { read: level(io.read) } : {}), ...(io.write ? { write: level(io.write) } : {}) };
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
  for (const throttle of resources.io?.throttle ?? []) {
    for (const field of ['readBps', 'writeBps'] as const) if (throttle[field] !== undefined) knobs.push(`io.throttle[${throttle.device}].${field}`);
  }
  if (resources.memory?.reservation !== undefined) knobs.push('memory.reservation');
  if (resources.memory?.minimum !== undefined) knobs.push('memory.minimum');
  return knobs;
}

function sizes(memory: { guarantee?: number | undefined; minimum?: number | undefined }): Record<string, string> {
  return Object.fromEntries(Object.entries(memory).flatMap(([key, bytes]) => (bytes === undefined ? [] : [[key, formatSize(bytes)]])));
}

function configuredView(config: SharingConfig | undefined): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  if (config?.cpu) view.cpu = config.cpu;
  if (config?.io) view.io = config.io;
  if (config?.memory) view.memory = sizes(config.memory);
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
    ...(effective.io?.weight !== undefined || (effective.io?.throttle?.length ?? 0) > 0
      ? {
          io: {
            ...(effective.io?.weight !== undefined ? { weight: effective.io.weight } : {}),
            ...((effective.io?.throttle?.length ?? 0) > 0 ? { throttle: effective.io?.throttle } : {}),
          },
        }
      : {}),
    ...(effective.memory?.reservation !== undefined || effective.memory?.minimum !== undefined
      ? { memory: sizes({ guarantee: effective.memory.reservation, minimum: effective.memory.minimum }) }
      : {}),
  };
}
