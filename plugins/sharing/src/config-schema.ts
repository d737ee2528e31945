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

/** A block device as limits names them: a path under /dev, or 'major:minor'. */
const DEVICE = /^(\/dev\/[\w./-]+|\d+:\d+)$/;

/**
 * The IO token bucket (io-burst.ts): the box's bucket fills at `readBps`/`writeBps` (its
 * sustained rate, the throttle it gets once drained) and holds up to `bucket` bytes it did not
 * use; while it holds some, the box may go at `peak` × the rate.
 */
export const ioBurstSchema = z
  .strictObject({
    /** The disk, a path under /dev or 'major:minor'; default: the disk the box's own files are written to. */
    device: z.string().regex(DEVICE, "must be a block device path such as /dev/vda, or 'major:minor' such as 254:0").optional(),
    /** Sustained bytes per second read ('4M': 4 MiB/s). */
    readBps: size.optional(),
    /** Sustained bytes per second written. */
    writeBps: size.optional(),
    /** Bytes of unused IO the box saves up and may spend at the peak rate. */
    bucket: size,
    /** The rate while the bucket holds bytes, as a multiple of the sustained rate (the overshoot after a drain is at most one controller tick of it). */
    peak: z.number().min(1).max(1000).default(4),
    /** Bytes a drained bucket must hold again before the peak comes back; default half the bucket. */
    minimum: size.optional(),
  })
  .superRefine((burst, ctx) => {
    if (burst.readBps === undefined && burst.writeBps === undefined) ctx.addIssue({ code: 'custom', message: 'give readBps, writeBps or both' });
    for (const key of ['readBps', 'writeBps'] as const) if (burst[key] === 0) ctx.addIssue({ code: 'custom', path: [key], message: 'must be above 0' });
    if (burst.minimum !== undefined && burst.minimum > burst.bucket) ctx.addIssue({ code: 'custom', path: ['minimum'], message: 'must be at most the bucket' });
  });

export const sharingConfigSchema = z.strictObject({
  /** `shared`: the template's layer read-only under the box's own upper layer; `copy`: a full copy. Unset: the host's setting. */
  template: templateModeSchema.optional(),
  cpu: cpuShareSchema.optional(),
  io: z
    .strictObject({
      /** Proportional IO weight, 1-10000 (v2 io.weight / io.bfq.weight; v1 blkio.bfq.weight with BFQ on the device). */
      weight: z.number().int().min(1).max(10_000).optional(),
      burst: ioBurstSchema.optional(),
    })
    .refine((io) => io.weight !== undefined || io.burst !== undefined, { message: 'give a weight, a burst or both' })
    .optional(),
  memory: z
    .strictObject({
      /**
       * Memory the box keeps while others can give some back (v2 memory.low; v1 the soft limit,
       * which the kernel heeds only under the whole host's pressure, never under a parent's limit): '256M'.
       */
      guarantee: size.optional(),
      /** Memory the box keeps whatever the pressure (v2 memory.min; cgroup v1 has none): '64M'. */
      minimum: size.optional(),
    })
    .superRefine((memory, ctx) => {
      if (memory.guarantee === undefined && memory.minimum === undefined) ctx.addIssue({ code: 'custom', message: 'give a guarantee, a minimum or both' });
      if (memory.guarantee !== undefined && memory.minimum !== undefined && memory.minimum > memory.guarantee) {
        ctx.addIssue({ code: 'custom', path: ['minimum'], message: 'must be at most the guarantee (the kernel protects the larger of the two)' });
      }
    })
    .optional(),
});

export type SharingConfig = z.infer<typeof sharingConfigSchema>;
export type CpuShare = z.infer<typeof cpuShareSchema>;
export type IoBurst = z.infer<typeof ioBurstSchema>;

export const sharingSettingsSchema = z.strictObject({
  /** What boxes from a template get when their config does not say. */
  templates: templateModeSchema.default('copy'),
  /** How often the resident agent's bias controller looks at the buckets (ms). */
  biasTickMs: z.number().int().min(100).max(60_000).default(1000),
  /** How often the resident agent's IO burst controller looks at the IO buckets (ms): a drained box overshoots by at most one tick at its peak rate. */
  ioTickMs: z.number().int().min(50).max(60_000).default(250),
});

export type SharingSettings = z.infer<typeof sharingSettingsSchema>;
