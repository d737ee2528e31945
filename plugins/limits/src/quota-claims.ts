/** What a box's `limits` section claims against its tenant's quotas (the quota-claim contribution). */

import type { BoxConfig, QuotaClaimContribution } from '@nsbox/core';
import { parseSize } from './units.js';

function bytes(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  try {
    return parseSize(value);
  } catch {
    return undefined; // validation names a bad size; a claim does not
  }
}

export const limitsQuotaClaims: QuotaClaimContribution = {
  resources: { memory: 'bytes', disk: 'bytes' },
  claims(config: BoxConfig): Record<string, number> {
    const section = config.limits as { memory?: unknown; disk?: unknown } | undefined;
    const memory = bytes(section?.memory);
    const disk = bytes(section?.disk);
    return { ...(memory !== undefined ? { memory } : {}), ...(disk !== undefined ? { disk } : {}) };
  },
};
