/**
 * `nsbox sharing set BOX --fill-rate 50 --interval 100 --bucket 50 --weight 300 --bias 1
 * --io-weight 200 --memory-guarantee 256M --memory-minimum 64M` (and `POST /plugins/sharing/actions/set`): changes
 * a box's shares, live on a running box, and keeps them. The change goes through the BoxApi
 * as the caller's own (tenant policy, audit, the section's schema); limits' values are not
 * touched, and `nsbox set` of limits leaves these alone (the runtime's arbitration).
 */

import { defineAction, z } from '@nsbox/core';
import { type SharingConfig, sharingConfigSchema } from './config-schema.js';

const number = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(parsed)) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not a number` });
    return z.NEVER;
  }
  return parsed;
});

const cpuFlags = {
  fillRate: '--fill-rate <ms>',
  interval: '--interval <ms>',
  bucket: '--bucket <ms>',
  minimum: '--minimum <ms>',
  weight: '--weight <n>',
  bias: '--bias <n>',
} as const;

export const shareSetAction = defineAction({
  name: 'set',
  description: "change a box's CPU, IO and memory shares: a running box gets them at once, and they are kept",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    fillRate: number.optional().describe('ms of CPU time the bucket gains per interval'),
    interval: number.optional().describe('the interval in ms (default 100)'),
    bucket: number.optional().describe('ms of unused CPU time the box may save up and spend at once'),
    minimum: number.optional().describe('ms a drained bucket must hold before the weight goes back up'),
    weight: number.optional().describe('CPU weight 1-10000'),
    bias: number.optional().describe('how far the bias moves the weight (0: none)'),
    ioWeight: number.optional().describe('IO weight 1-10000'),
    memoryGuarantee: z.union([z.string(), z.number()]).optional().describe("memory kept while others can give some back ('256M')"),
    memoryMinimum: z.union([z.string(), z.number()]).optional().describe("memory kept whatever the pressure, cgroup v2 only ('64M')"),
    reset: z.boolean().optional().describe('remove every share first'),
  }),
  box: true,
  cli: {
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: cpuFlags.fillRate, description: 'ms of CPU time the bucket gains per interval' },
      { flags: cpuFlags.interval, description: 'the interval in ms (default 100)' },
      { flags: cpuFlags.bucket, description: 'ms of unused CPU time the box may save up and spend at once' },
      { flags: cpuFlags.minimum, description: 'ms a drained bucket must hold before its weight goes back up' },
      { flags: cpuFlags.weight, description: 'CPU weight 1-10000' },
      { flags: cpuFlags.bias, description: 'how far the bias moves the weight (0: none)' },
      { flags: '--io-weight <n>', description: 'IO weight 1-10000' },
      { flags: '--memory-guarantee <size>', description: "memory kept while others can give some back ('256M')" },
      { flags: '--memory-minimum <size>', description: "memory kept whatever the pressure, cgroup v2 only ('64M')" },
      { flags: '--reset', description: 'remove every share first' },
    ],
  },
  async run({ box: ref, reset, ioWeight, memoryGuarantee, memoryMinimum, ...cpu }, { box, api }) {
    const current = box as NonNullable<typeof box>;
    const stored = (reset ? {} : ((current.config.sharing as Record<string, unknown> | undefined) ?? {})) as Record<string, unknown>;
    const next: Record<string, unknown> = { ...stored };
    const cpuChanges = Object.fromEntries(Object.entries(cpu).filter(([, value]) => value !== undefined));
    if (Object.keys(cpuChanges).length > 0) next.cpu = { ...(stored.cpu as object | undefined), ...cpuChanges };
    if (ioWeight !== undefined) next.io = { weight: ioWeight };
    const memoryChanges = Object.fromEntries(Object.entries({ guarantee: memoryGuarantee, minimum: memoryMinimum }).filter(([, value]) => value !== undefined));
    if (Object.keys(memoryChanges).length > 0) next.memory = { ...(stored.memory as object | undefined), ...memoryChanges };
    const updated = await api.update(ref, { sharing: Object.keys(next).length > 0 ? next : null });
    const section = sharingConfigSchema.parse(updated.config.sharing ?? {}) as SharingConfig;
    return { box: updated.name, state: updated.state, sharing: { cpu: section.cpu, io: section.io, memory: section.memory } };
  },
  render: (result) =>
    `shares of box ${result.box} (${result.state}): ${JSON.stringify(result.sharing)}${result.state === 'running' ? ' (applied live)' : ' (kept for the next start)'}`,
});
