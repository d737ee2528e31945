/** The plugins' sections of a box's info (`nsbox info`, `GET /boxes/{id}/details`), from the box-info contribution point. */

import { type Box, boxInfoPoint, type PluginHost } from '@nsbox/core';

export async function boxDetails(plugins: PluginHost, box: Box): Promise<Record<string, unknown>> {
  const disabled = new Set(box.config.plugins?.disable ?? []);
  const details: Record<string, unknown> = {};
  for (const contribution of plugins.contributions(boxInfoPoint)) {
    if (disabled.has(contribution.section)) continue;
    const section = await (async () => contribution.describe(box))().catch((error: Error) => ({ error: error.message }));
    if (section !== undefined) details[contribution.section] = section;
  }
  return details;
}
