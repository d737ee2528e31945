/** `nsbox set NAME --cpus 1.5 --memory 512M ...`: changes limits, live on a running box, and keeps them. */

import { type BoxManager, type CommandContribution, CoreTokens } from '@nsbox/core';
import { type LimitsConfig, limitsConfigSchema } from '../config-schema.js';
import type { LimitsService } from '../limits-service.js';
import { LimitsTokens } from '../tokens.js';
import { renderLimits } from './render.js';
import { mergeLimitOptions, scalarOptions } from './set-options.js';

export const setCommand: CommandContribution = {
  name: 'set',
  description: "change a box's limits: a running box gets them at once, and they are kept ('unlimited' removes one)",
  arguments: [{ name: 'name', required: true }],
  options: [
    ...Object.values(scalarOptions).map((option) => ({ flags: option.flag, description: option.description })),
    { flags: '--rlimit <name=soft:hard...>', description: 'rlimits (nofile=1024:4096 core=0); name=- removes one' },
    { flags: '--io <device,key=value...>', description: 'IO throttles (/dev/vdb,wbps=10M,riops=500); device,none removes' },
    { flags: '--reset', description: 'remove every limit first' },
  ],
  async run({ args, options, services }) {
    const manager = services.get<BoxManager>(CoreTokens.BoxManager);
    const limits = services.get<LimitsService>(LimitsTokens.Service);
    const name = args[0] as string;
    const box = await manager.sync(name);
    const next = mergeLimitOptions(box.config['limits'] as LimitsConfig | undefined, options);
    // A stopped box's update runs no hook: check here what its next start would refuse.
    const parsed = limitsConfigSchema.safeParse(next);
    if (parsed.success) limits.checkChange(box, parsed.data);
    const started = Date.now();
    const updated = await manager.update(name, { limits: Object.keys(next).length > 0 ? next : null });
    return { box: updated.name, state: updated.state, appliedInMs: Date.now() - started, ...limits.report(updated) };
  },
  render: (result) => {
    const report = result as { box: string; state: string; appliedInMs: number } & Parameters<typeof renderLimits>[0];
    const when = report.state === 'running' || report.state === 'paused' ? `applied live in ${report.appliedInMs} ms` : 'kept for the next start';
    return `limits of box ${report.box} (${report.state}): ${when}\n${renderLimits(report)}`;
  },
};
