/**
 * The plugin's service as actions, hooks and the metrics contribution reach it: the latest
 * sample of a box (from the sampler when it runs in this process, else read live), its
 * history, and its Prometheus samples.
 */

import { type Box, type BoxStatsRange, type MetricSample, type MetricsContribution, NsboxError } from '@nsbox/core';
import { boxMetrics } from './box-metrics.js';
import type { BoxReader } from './box-reader.js';
import { parseRange } from './history-range.js';
import type { HistoryStore } from './history-store.js';
import type { BoxSample } from './sample.js';
import type { Sampler } from './sampler.js';
import type { TrackingSettings } from './settings.js';
import { type BoxHistoryView, type BoxStatsView, historyRows, statsView } from './stats-view.js';

/** The pause between two live readings when no sampler runs here (the CPU share needs two). */
const LIVE_GAP_MS = 250;

export const trackingServiceId = Symbol('tracking service');

export class TrackingService {
  /** The sampler, where the runtime's cgroups are at hand (its host service runs in the agent only). */
  sampler: Sampler | undefined;
  /** What this plugin contributes to the metrics point (nsboxd's /metrics). */
  readonly contribution: MetricsContribution = {
    collect: (boxes) => this.metrics(boxes),
    // The samples change at each round of a sampler of this process (nsboxd writes them then).
    onChange: (listener) => this.sampler?.onRound(listener) ?? (() => undefined),
  };
  /** The Prometheus samples of the sampler's samples, made at the first scrape after a round. */
  private readonly metricsOf = new WeakMap<BoxSample, MetricSample[]>();

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

  /** Whether the sampler runs in this process (the resident agent): its samples are fresh. */
  sampling(): boolean {
    return (this.sampler?.cost.rounds ?? 0) > 0;
  }

  /** A running box's stats now, named as the caller names it; E_INVALID_STATE when it has none. */
  async statsOf(box: Box, name: string): Promise<BoxStatsView> {
    const found = (await this.current(box.state === 'running' ? [box] : [])).get(box.id);
    if (!found) {
      throw new NsboxError('E_INVALID_STATE', `box '${name}' is ${box.state}: it has no usage now (its history has)`, {
        details: { box: name, state: box.state },
      });
    }
    return statsView(found.sample, box.state, name, found.previous);
  }

  /** A box's history over a range (`since`, or `from` and `to`): the tier that covers its start. */
  historyOf(boxId: string, range: BoxStatsRange): BoxHistoryView {
    const now = this.clock();
    const { from, to } = parseRange(range, now);
    const { tier, step, points } = this.history.points(boxId, { since: from, until: to }, now);
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      stepMs: step,
      tier: tier === 0 ? 'fine' : 'coarse',
      points: historyRows(points),
    };
  }

  /**
   * Resolves at the sampler's next round (a new sample of every running box), or after an
   * interval where no sampler runs in this process, or when `signal` aborts.
   */
  nextRound(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const waitMs = this.sampler ? 2 * this.settings.intervalSeconds * 1000 + 1000 : this.settings.intervalSeconds * 1000;
    return new Promise((resolve) => {
      const stops: (() => void)[] = [];
      const done = () => {
        for (const stop of stops) stop();
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      stops.push(
        () => clearTimeout(timer),
        () => signal.removeEventListener('abort', done),
      );
      if (this.sampler) stops.push(this.sampler.onRound(done));
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Prometheus samples of the boxes: the sampler's latest where fresh, else one live reading.
   * A sampler's sample gives the same MetricSample objects at every scrape until the next
   * round (nsboxd writes each of them once, not at every scrape).
   */
  metrics(boxes: readonly Box[]): MetricSample[] {
    const out: MetricSample[] = [];
    for (const box of boxes) {
      if (box.state !== 'running') continue;
      const fresh = this.fresh(box);
      let metrics = fresh && this.metricsOf.get(fresh);
      if (!metrics) {
        const sample = fresh ?? this.safeRead(box);
        if (!sample) continue;
        metrics = boxMetrics(sample);
        if (fresh) this.metricsOf.set(fresh, metrics);
      }
      for (const metric of metrics) out.push(metric);
    }
    return out;
  }

  private safeRead(box: Box): BoxSample | undefined {
    try {
      return this.reader?.read(box, this.clock());
    } catch {
      return undefined;
    }
  }
}
