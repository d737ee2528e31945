/** `nsbox limits NAME`: configured and effective limits, usage, and new limit events. */

import { type BoxManager, type CommandContribution, CoreTokens } from '@nsbox/core';
import type { LimitsService } from '../limits-service.js';
import { LimitsTokens } from '../tokens.js';
import { renderLimits } from './render.js';

export const limitsCommand: CommandContribution = {
  name: 'limits',
  description: "show a box's limits: configured, enforced by the kernel now, and usage",
  arguments: [{ name: 'name', required: true }],
  async run({ args, services }) {
    const manager = services.get<BoxManager>(CoreTokens.BoxManager);
    const limits = services.get<LimitsService>(LimitsTokens.Service);
    const box = await manager.sync(args[0] as string);
    return { box: box.name, state: box.state, ...limits.report(box) };
  },
  render: (result) => {
    const report = result as { box: string; state: string } & Parameters<typeof renderLimits>[0];
    return `box ${report.box} (${report.state})\n${renderLimits(report)}`;
  },
};
