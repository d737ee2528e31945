/** Capability names as a box config gives them, and the set a box ends up with. */

import { allCapabilities } from '@nsbox/runtime-api';

export { allCapabilities, defaultCapabilities } from '@nsbox/runtime-api';

const known: ReadonlySet<string> = new Set(allCapabilities);

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `ALL` stays `ALL`. */
export function normaliseCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return upper;
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

export function isKnownCapability(name: string): boolean {
  const normal = normaliseCapability(name);
  return normal === 'ALL' || known.has(normal);
}

/** The box's capability set: `start`, then `drop` (ALL empties it), then `add` (ALL fills it). */
export function effectiveCapabilities(start: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const dropped = new Set(drop.map(normaliseCapability));
  const added = add.map(normaliseCapability);
  const result = new Set(dropped.has('ALL') ? [] : start.filter((cap) => !dropped.has(cap)));
  for (const cap of added.includes('ALL') ? allCapabilities : added) result.add(cap);
  // In capability-number order, so that the spec (and `nsbox info`) reads the same every time.
  return allCapabilities.filter((cap) => result.has(cap));
}
