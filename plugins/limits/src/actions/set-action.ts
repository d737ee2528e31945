/**
 * `nsbox set NAME --cpus 1.5 --memory 512M ...` (and `POST /plugins/limits/actions/set`):
 * changes a box's limits, live on a running box, and keeps them. The change goes through the
 * BoxApi as the caller's own, so the tenant policy, the quotas and the limits hooks' checks
 * (the host, what a running box uses, what its disk holds) judge it as they judge PATCH /boxes/:id.
 */

import { defineAction, z } from '@nsbox/core';
import { LimitsService, sectionOf } from '../limits-service.js';
import { renderLimits } from './render.js';
import { mergeLimitOptions, scalarOptions } from './set-options.js';

const scalar = z.union([z.string(), z.number()]);
const oneOrMore = z.union([z.string(), z.array(z.string())]);

export const setInput = z.strictObject({
  box: z.string().min(1).describe('the box (name or id)'),
  ...(Object.fromEntries(Object.entries(scalarOptions).map(([field, option]) => [field, scalar.optional().describe(option.description)])) as Record<
    keyof typeof scalarOptions,
    z.ZodOptional<typeof scalar>
  >),
  rlimit: oneOrMore.optional().describe('rlimits: nofile=1024:4096, core=0; name=- removes one'),
  io: oneOrMore.optional().describe('IO throttles: /dev/vdb,wbps=10M,riops=500; DEVICE,none removes one'),
  reset: z.boolean().optional().describe('remove every limit first'),
});

export const setAction = defineAction({
  name: 'set',
  description: "change a box's limits: a running box gets them at once, and they are kept ('unlimited' removes one)",
  input: setInput,
  box: true,
  cli: {
    command: 'set',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      ...Object.values(scalarOptions).map((option) => ({ flags: option.flag, description: option.description })),
      { flags: '--rlimit <name=soft:hard...>', description: 'rlimits (nofile=1024:4096 core=0); name=- removes one' },
      { flags: '--io <device,key=value...>', description: 'IO throttles (/dev/vdb,wbps=10M,riops=500); device,none removes' },
      { flags: '--reset', description: 'remove every limit first' },
    ],
  },
  async run({ box: ref, ...options }, { box, api, own }) {
    const current = box as NonNullable<typeof box>;
    const limits = own(LimitsService);
    const next = mergeLimitOptions(sectionOf(current), options);
    const started = Date.now();
    const updated = await api.update(ref, { limits: Object.keys(next).length > 0 ? next : null });
    const appliedInMs = Date.now() - started;
    return { box: updated.name, state: updated.state, appliedInMs, ...limits.report({ ...current, config: updated.config, state: updated.state }) };
  },
  render: (report) => {
    const when = report.state === 'running' || report.state === 'paused' ? `applied live in ${report.appliedInMs} ms` : 'kept for the next start';
    return `limits of box ${report.box} (${report.state}): ${when}\n${renderLimits(report)}`;
  },
});
