/**
 * What a box claims against its tenant's quotas: the sum of what the installed plugins say
 * through the quota-claim contribution point (limits claims `memory` and `disk`). nsboxd does
 * not read any plugin's section itself.
 */

import type { BoxConfig, QuotaClaimContribution } from '@nsbox/core';

export interface BoxResources {
  /** Bytes; null when the box sets no limit. */
  memory: number | null;
  disk: number | null;
}

export function boxResourcesFrom(contributions: readonly QuotaClaimContribution[]): (config: BoxConfig) => BoxResources {
  return (config) => {
    const resources: BoxResources = { memory: null, disk: null };
    for (const contribution of contributions) {
      const claims = contribution.claims(config);
      for (const key of ['memory', 'disk'] as const) {
        const claim = claims[key];
        if (claim !== undefined) resources[key] = (resources[key] ?? 0) + claim;
      }
    }
    return resources;
  };
}
