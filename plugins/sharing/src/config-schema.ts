/**
 * The `sharing` section of a box config, and the plugin's host settings. A box that says
 * nothing gets the host's choice for templates (`templates` in host.json, `copy` unless the
 * admin says `shared`) and no shares of its own (the kernel's defaults).
 *
 * CPU as Linux-VServer's token bucket: the box's bucket fills with `fillRate` ms of CPU time
 * every `interval` ms (its sustained share: cpu.max / cfs_quota_us per cfs_period_us); up to
 * `bucket` ms it did not use are saved up and may be spent at once (cpu.max.burst /
 * cfs_burst_us, at most one fill); with `bias`, the resident agent raises the box's weight
 * while its bucket is full and lowers it once drained, until it holds `minimum` ms again.
 */

import { z } from '@nsbox/core';
import { parseSize } from './units.js';

/** How a box made from a template gets its rootfs: an overlay over the template's shared layer, or a copy of its own. */
export const templateModeSchema = z.enum(['shared', 'copy']);
export type TemplateMode = z.infer<typeof templateModeSchema>;

const ms = (max: number) => z.number().int().min(0).max(max);
const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const cpuShareSchema = z
  .strictObject({
    /** ms of CPU time the bucket gains per interval (0.5 CPU: 50 per 100). */
    fillRate: ms(1_000_000).min(1).optional(),
    /** The interval in ms (the CFS period): 1 to 1000, default 100. */
    interval: ms(1000).min(1).default(100),
    /** ms of unused CPU time the box may save up and spend at once (the CFS burst); at most fillRate. */
    bucket: ms(1_000_000).optional(),
    /** ms the bucket must hold again before a drained box's weight goes back up (the bias's hysteresis). */
    minimum: ms(1_000_000).optional(),
    /** The box's weight under contention, 1-10000 (100: the kernel's default). */
    weight: z.number().int().min(1).max(10_000).optional(),
    /** How far the bias moves the weight: × (1 + bias) with a full bucket, ÷ (1 + bias) drained; 0: no bias. */
    bias: z.number().min(0).max(10).default(0),
  })
  .superRefine((cpu, ctx) => {
    if (cpu.bucket !== undefined && cpu.fillRate === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'a bucket needs a fillRate (the kernel bursts only above a quota)' });
    }
    if (cpu.bucket !== undefined && cpu.fillRate !== undefined && cpu.bucket > cpu.fillRate) {
      ctx.addIssue({
        code: 'custom',
        path: ['bucket'],
        message: `must be at most fillRate (${cpu.fillRate} ms): the kernel bursts at most one period's quota`,
      });
    }
    if (cpu.minimum !== undefined && cpu.minimum > (cpu.bucket ?? cpu.fillRate ?? 0)) {
      ctx.addIssue({ code: 'custom', path: ['minimum'], message: 'must be at most the bucket (or fillRate without one)' });
    }
    if (cpu.fillRate !== undefined && cpu.fillRate > cpu.interval * 1024) {
      ctx.addIssue({ code: 'custom', path: ['fillRate'], message: 'is more CPU time than 1024 CPUs give per interval' });
    }
    if (cpu.bias > 0 && cpu.fillRate === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bias'], message: 'a bias needs a fillRate (the bucket it watches fills at that rate)' });
    }
  });

export const sharingConfigSchema = z.strictObject({
  /** `shared`: the template's layer read-only under the box's own upper layer; `copy`: a full copy. Unset: the host's setting. */
  template: templateModeSchema.optional(),
  cpu: cpuShareSchema.optional(),
  io: z
    .strictObject({
      /** Proportional IO weight, 1-10000 (v2 io.weight / io.bfq.weight; v1 blkio.bfq.weight with BFQ on the device). */
      weight: z.number().int().min(1).max(10_000),
    })
    .optional(),
  memory: z
    .strictObject({
      /** Memory the box keeps under the host's pressure (v2 memory.low; v1 the soft limit): '256M'. */
      guarantee: size,
    })
    .optional(),
});

export type SharingConfig = z.infer<typeof sharingConfigSchema>;
export type CpuShare = z.infer<typeof cpuShareSchema>;

export const sharingSettingsSchema = z.strictObject({
  /** What boxes from a template get when their config does not say. */
  templates: templateModeSchema.default('copy'),
  /** How often the resident agent's bias controller looks at the buckets (ms). */
  biasTickMs: z.number().int().min(100).max(60_000).default(1000),
});

export type SharingSettings = z.infer<typeof sharingSettingsSchema>;
