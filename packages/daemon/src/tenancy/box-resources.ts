/**
 * What a box claims against its tenant's quotas, read from the `limits` section of its
 * config when the limits plugin is installed. The section is the plugin's, so this reads it
 * tolerantly: `memory: "512M"`, `memory: { max: 536870912 }`, `disk: { size: "2G" }`...
 */

import type { BoxConfig } from '@nsbox/core';
import { parseBytes } from './bytes.js';

export interface BoxResources {
  /** Bytes; null when the box sets no limit. */
  memory: number | null;
  disk: number | null;
}

const LIMIT_KEYS = ['max', 'limit', 'hard', 'size', 'space', 'bytes', 'quota'];

function limitOf(value: unknown): number | null {
  const direct = parseBytes(value);
  if (direct !== undefined) return direct;
  if (typeof value === 'object' && value !== null) {
    for (const key of LIMIT_KEYS) {
      const nested = parseBytes((value as Record<string, unknown>)[key]);
      if (nested !== undefined) return nested;
    }
  }
  return null;
}

export function boxResources(config: BoxConfig): BoxResources {
  const limits = config.limits as Record<string, unknown> | undefined;
  if (typeof limits !== 'object' || limits === null) return { memory: null, disk: null };
  return { memory: limitOf(limits.memory), disk: limitOf(limits.disk) };
}
