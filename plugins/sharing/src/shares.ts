/** A box's shares as the resources sharing declares through the runtime's arbitration (owner 'sharing'). */

import type { BoxResources } from '@nsbox/runtime-api';
import type { SharingConfig } from './config-schema.js';

/** The kernel's default weight: what a biased box without a weight of its own starts from. */
export const DEFAULT_WEIGHT = 100;

/** The resources of the section; `weight` replaces the configured CPU weight (the bias controller's). */
export function shareResources(config: SharingConfig | undefined, weight?: number): BoxResources {
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
  if (config?.io) resources.io = { weight: config.io.weight };
  if (config?.memory) resources.memory = { reservation: config.memory.guarantee };
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
  if (knob === 'memory.reservation') return 'sharing.memory.guarantee';
  return `sharing.${knob}`;
}
