/** tracking's section of host.json: how often boxes are sampled and how long history is kept. */

import { z } from '@nsbox/core';

export const trackingSettingsSchema = z.strictObject({
  /** Seconds between two samples of every running box (the flight recorder's resolution). */
  intervalSeconds: z.number().min(0.1).max(3600).default(10),
  /** The fine tier of history: one point per this many seconds... */
  fineStepSeconds: z.number().int().min(1).max(3600).default(60),
  /** ...kept this many hours. */
  fineRetentionHours: z
    .number()
    .min(1)
    .max(24 * 7)
    .default(24),
  /** The downsampled tier: one point per this many seconds... */
  coarseStepSeconds: z.number().int().min(60).max(86_400).default(3600),
  /** ...kept this many days. */
  coarseRetentionDays: z.number().min(1).max(366).default(31),
  /** A memory or IO pressure episode is reported when the box's `some` avg10 reaches this percentage. */
  pressureThreshold: z.number().min(0.1).max(100).default(20),
  /** A box's own filesystem is full when this percentage of its space (or of its inodes) is used (df's Use%). */
  diskFullPercent: z.number().min(1).max(100).default(95),
  /** Boxes' seccomp filters log what they deny (SECCOMP_FILTER_FLAG_LOG) and the flight recorder reports it. */
  seccompDenials: z.boolean().default(true),
});

export type TrackingSettings = z.output<typeof trackingSettingsSchema>;

export const defaultTrackingSettings: TrackingSettings = trackingSettingsSchema.parse({});
