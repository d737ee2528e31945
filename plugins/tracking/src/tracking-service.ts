/**
 * The plugin's service as actions, hooks and the metrics contribution reach it: the latest
 * sample of a box (from the sampler when it runs in this process, else read live), its
 * history, and its Prometheus samples.
 */

import type { Box, MetricSample, MetricsContribution } from '@nsbox/core';
import { boxMetrics } from './box-metrics.js';
import type { BoxReader } from './box-reader.js';
import type { HistoryStore } from './history-store.js';
import type { BoxSample } from './sample.js';
import type { Sampler } from './sampler.js';
import type { TrackingSettings } from './settings.js';

/** The pause between two live readings when no sampler runs here (the CPU share needs two). */
const LIVE_GAP_MS = 250;

export const trackingServiceId = Symbol('tracking service');

export class TrackingService {
  /** The sampler, where the runtime's cgroups are at hand (its host service runs in the agent only). */
  sampler: Sampler | undefined;
  /** What this plugin contributes to the metrics point (nsboxd's /metrics). */
  readonly contribution: MetricsContribution = { collect: (boxes) => this.metrics(boxes) };

  constructor(
    readonly reader: BoxReader | undefined,
    readonly history: HistoryStore,
    readonly settings: TrackingSettings,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The sampler's latest sample if it is fresh (this process is the agent), else undefined. */
  private fresh(box: Pick<Box, 'id'>): BoxSample | undefined {
    const sample = this.sampler?.latest.get(box.id);
    return sample && this.clock() - sample.time <= 2 * this.settings.intervalSeconds * 1000 + 1000 ? sample : undefined;
  }

  /** The fresh sample with the one before it (for rates), else undefined. */
  private cached(box: Pick<Box, 'id'>): { sample: BoxSample; previous: BoxSample } | undefined {
    const sample = this.fresh(box);
    if (!sample) return undefined;
    // A box the sampler has seen once has no rate yet: it is read live instead.
    const previous = this.sampler?.previous.get(box.id);
    return previous ? { sample, previous } : undefined;
  }

  /**
   * The current sample of each box, with the one before it for rates: the sampler's, or two
   * live readings a moment apart. Boxes without a cgroup are left out.
   */
  async current(boxes: readonly Box[]): Promise<Map<string, { sample: BoxSample; previous?: BoxSample }>> {
    const found = new Map<string, { sample: BoxSample; previous?: BoxSample }>();
    const live: Box[] = [];
    for (const box of boxes) {
      const cached = this.cached(box);
      if (cached) found.set(box.id, cached);
      else live.push(box);
    }
    if (live.length === 0 || !this.reader) return found;
    const reader = this.reader;
    const read = () =>
      new Map(
        live.flatMap((box) => {
          const sample = reader.read(box, this.clock());
          return sample ? [[box.id, sample] as const] : [];
        }),
      );
    const first = read();
    if (first.size === 0) return found;
    await new Promise((resolve) => setTimeout(resolve, LIVE_GAP_MS));
    for (const [id, sample] of read()) {
      const previous = first.get(id);
      found.set(id, previous ? { sample, previous } : { sample });
    }
    return found;
  }

  /** Prometheus samples of the boxes: the sampler's latest where fresh, else one live reading. */
  metrics(boxes: readonly Box[]): MetricSample[] {
    return boxes.flatMap((box) => {
      if (box.state !== 'running') return [];
      const sample = this.fresh(box) ?? this.safeRead(box);
      return sample ? boxMetrics(sample) : [];
    });
  }

  private safeRead(box: Box): BoxSample | undefined {
    try {
      return this.reader?.read(box, this.clock());
    } catch {
      return undefined;
    }
  }
}
