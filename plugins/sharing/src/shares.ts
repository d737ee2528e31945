/** A box's shares as the resources sharing declares through the runtime's arbitration (owner 'sharing'). */

import type { BoxResources } from '@nsbox/runtime-api';
import type { SharingConfig } from './config-schema.js';
import { type IoBurstState, ioThrottle } from './io-burst.js';

/** The kernel's default weight: what a biased box without a weight of its own starts from. */
export const DEFAULT_WEIGHT = 100;

/** What the controllers hold of a box: the bias's CPU weight, the IO buckets. */
export interface LiveShares {
  weight?: number | undefined;
  io?: IoBurstState | undefined;
}

/**
 * The resources of the section; `live.weight` replaces the configured CPU weight (the bias
 * controller's), `live.io` gives the IO burst's throttle (without it, none is declared: the
 * burst's disk is known once the box runs).
 */
export function shareResources(config: SharingConfig | undefined, live: LiveShares = {}): BoxResources {
  const weight = live.weight;
  const resources: BoxResources = {};
  const cpu = config?.cpu;
  if (cpu) {
    const declared: NonNullable<BoxResources['cpu']> = {};
    if (cpu.fillRate !== undefined) {
      declared.quota = cpu.fillRate * 1000;
      declared.period = cpu.interval * 1000;
    }
    if (cpu.bucket !== undefined && cpu.bucket > 0) declared.burst = cpu.bucket * 1000;
    const chosen = weight ?? cpu.weight ?? (cpu.bias > 0 ? DEFAULT_WEIGHT : undefined);
    if (chosen !== undefined) declared.weight = chosen;
    if (Object.keys(declared).length > 0) resources.cpu = declared;
  }
  const io = config?.io;
  if (io?.weight !== undefined) resources.io = { weight: io.weight };
  if (io?.burst && live.io) resources.io = { ...resources.io, throttle: [ioThrottle(io.burst, live.io)] };
  const memory = config?.memory;
  if (memory) {
    resources.memory = {
      ...(memory.guarantee !== undefined ? { reservation: memory.guarantee } : {}),
      ...(memory.minimum !== undefined ? { minimum: memory.minimum } : {}),
    };
  }
  return resources;
}

export function hasShares(resources: BoxResources): boolean {
  return Object.keys(resources).length > 0;
}

/** The config field a resources knob comes from, for errors the user can act on. */
export function fieldOfKnob(knob: string): string {
  if (knob === 'cpu.quota') return 'sharing.cpu.fillRate';
  if (knob === 'cpu.burst') return 'sharing.cpu.bucket';
  if (knob === 'cpu.weight') return 'sharing.cpu.weight';
  if (knob === 'io.weight') return 'sharing.io.weight';
  if (knob.startsWith('io.throttle[')) return 'sharing.io.burst';
  if (knob === 'memory.reservation') return 'sharing.memory.guarantee';
  if (knob === 'memory.minimum') return 'sharing.memory.minimum';
  return `sharing.${knob}`;
}
