/**
 * `nsbox sharing set BOX --fill-rate 50 --interval 100 --bucket 50 --weight 300 --bias 1
 * --io-weight 200 --memory-guarantee 256M --memory-minimum 64M` (and `POST /plugins/sharing/actions/set`): changes
 * a box's shares, live on a running box, and keeps them. The change goes through the BoxApi
 * as the caller's own (tenant policy, audit, the section's schema); limits' values are not
 * touched, and `nsbox set` of limits leaves these alone (the runtime's arbitration).
 */

import { type Box, defineAction, type SetOptionContribution, z } from '@nsbox/core';
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

export interface ShareChanges {
  fillRate?: number | undefined;
  interval?: number | undefined;
  bucket?: number | undefined;
  minimum?: number | undefined;
  weight?: number | undefined;
  bias?: number | undefined;
  ioWeight?: number | undefined;
  memoryGuarantee?: string | number | undefined;
  memoryMinimum?: string | number | undefined;
  reset?: boolean | undefined;
}

/** The box's sharing section with the given shares set (after `reset`, only they); null when nothing is left. */
export function withShares(box: Box, { reset, ioWeight, memoryGuarantee, memoryMinimum, ...cpu }: ShareChanges): Record<string, unknown> | null {
  const stored = (reset ? {} : ((box.config.sharing as Record<string, unknown> | undefined) ?? {})) as Record<string, unknown>;
  const next: Record<string, unknown> = { ...stored };
  const cpuChanges = Object.fromEntries(Object.entries(cpu).filter(([, value]) => value !== undefined));
  if (Object.keys(cpuChanges).length > 0) next.cpu = { ...(stored.cpu as object | undefined), ...cpuChanges };
  if (ioWeight !== undefined) next.io = { weight: ioWeight };
  const memoryChanges = Object.fromEntries(Object.entries({ guarantee: memoryGuarantee, minimum: memoryMinimum }).filter(([, value]) => value !== undefined));
  if (Object.keys(memoryChanges).length > 0) next.memory = { ...(stored.memory as object | undefined), ...memoryChanges };
  return Object.keys(next).length > 0 ? next : null;
}

function sharesOf(box: Box): Pick<SharingConfig, 'cpu' | 'io' | 'memory'> {
  const section = sharingConfigSchema.parse(box.config.sharing ?? {}) as SharingConfig;
  return { cpu: section.cpu, io: section.io, memory: section.memory };
}

/** `nsbox set NAME --share-weight 300 --memory-guarantee 256M ...`: the sharing part of the core's set command. */
const setFields = {
  shareFillRate: ['fillRate', '--share-fill-rate <ms>', 'ms of CPU time the bucket gains per interval'],
  shareInterval: ['interval', '--share-interval <ms>', 'the token bucket interval in ms (default 100)'],
  shareBucket: ['bucket', '--share-bucket <ms>', 'ms of unused CPU time the box may save up and spend at once'],
  shareMinimum: ['minimum', '--share-minimum <ms>', 'ms a drained bucket must hold before its weight goes back up'],
  shareWeight: ['weight', '--share-weight <n>', 'CPU weight 1-10000 of the token bucket'],
  shareBias: ['bias', '--share-bias <n>', 'how far the bias moves the weight (0: none)'],
  ioWeight: ['ioWeight', '--io-weight <n>', 'IO weight 1-10000'],
  memoryGuarantee: ['memoryGuarantee', '--memory-guarantee <size>', "memory kept while others can give some back ('256M')"],
  memoryMinimum: ['memoryMinimum', '--memory-minimum <size>', "memory kept whatever the pressure, cgroup v2 only ('64M')"],
  resetShares: ['reset', '--reset-shares', 'remove every share first'],
} as const;

export const sharingSetPart: SetOptionContribution = {
  plugin: 'sharing',
  options: Object.fromEntries(Object.entries(setFields).map(([field, [, flags, description]]) => [field, { flags, description }])),
  input: z.strictObject({
    ...(Object.fromEntries(
      Object.entries(setFields)
        .filter(([field]) => !['memoryGuarantee', 'memoryMinimum', 'resetShares'].includes(field))
        .map(([field]) => [field, number.optional()]),
    ) as Record<Exclude<keyof typeof setFields, 'memoryGuarantee' | 'memoryMinimum' | 'resetShares'>, z.ZodOptional<typeof number>>),
    memoryGuarantee: z.union([z.string(), z.number()]).optional(),
    memoryMinimum: z.union([z.string(), z.number()]).optional(),
    resetShares: z.boolean().optional(),
  }),
  changes: (box, values) => ({
    sharing: withShares(box, Object.fromEntries(Object.entries(values).map(([field, value]) => [setFields[field as keyof typeof setFields][0], value]))),
  }),
  report: (box) => sharesOf(box),
  render: (part) => `shares: ${JSON.stringify(part)}`,
};

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
  // `nsbox set NAME --share-weight ...` (sharingSetPart) is the same change beside other plugins' options.
  async run({ box: ref, ...shares }, { box, api }) {
    const updated = await api.update(ref, { sharing: withShares(box as Box, shares) });
    return { box: updated.name, state: updated.state, sharing: sharesOf(updated) };
  },
  render: (result) =>
    `shares of box ${result.box} (${result.state}): ${JSON.stringify(result.sharing)}${result.state === 'running' ? ' (applied live)' : ' (kept for the next start)'}`,
});
