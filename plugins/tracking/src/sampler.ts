/**
 * The sampler: a host service of the resident agent (nsboxd, `nsboxd --agent`) that reads
 * every running box each `intervalSeconds`, folds the samples into history, runs the flight
 * recorder over them and keeps the latest in memory for the faces of the same process
 * (/metrics answers from it rather than reading every cgroup at each scrape). Samples run
 * one after the other, never overlapping; a box that cannot be read is skipped that round.
 */

import type { Box, BoxRepository, EventBus, HostService, MetricSample, MetricsContribution, OperationLog } from '@nsbox/core';
import type { BoxReader } from './box-reader.js';
import { attributeDenials, denialEvent } from './denial-recorder.js';
import { type BoxTrail, observe } from './flight-recorder.js';
import type { HistoryStore } from './history-store.js';
import { isVictimOf, type KernelLog, type OomVictim } from './kernel-log.js';
import type { BoxSample } from './sample.js';
import type { TrackingSettings } from './settings.js';

/** Pruning (retention, destroyed boxes) runs at most this often. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface SamplerParts {
  boxes: BoxRepository;
  events: EventBus;
  reader: BoxReader;
  history: HistoryStore;
  kernelLog: KernelLog;
  settings: TrackingSettings;
  /** Other plugins' metrics contributions (network's per-interface counters...). */
  contributions(): MetricsContribution[];
  clock?: () => number;
}

export class Sampler {
  /** The latest sample of each running box, by box id. */
  readonly latest = new Map<string, BoxSample>();
  /** The sample before it (rates between the two). */
  readonly previous = new Map<string, BoxSample>();
  private readonly trails = new Map<string, BoxTrail>();
  /** Victims read from the kernel log and not yet matched to a box's count. */
  private victims: OomVictim[] = [];
  private lastPrune = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private log: OperationLog | undefined;
  private readonly roundListeners = new Set<() => void | Promise<void>>();
  /** What the rounds cost so far (nsboxd's GET /host shows it): CPU of this process during them, wall time. */
  readonly cost = { rounds: 0, boxes: 0, cpuMs: 0, wallMs: 0, samples: 0, reused: 0 };
  /** Seccomp records read so far, host-wide (GET /host): see denial-recorder.ts and seccomp-log.ts. */
  readonly seccomp = { denials: 0, expected: 0, unattributed: 0, suppressed: 0 };
  /** Denials attributed to each running box since this agent started. */
  private readonly denialTotals = new Map<string, number>();

  constructor(private readonly parts: SamplerParts) {}

  private now(): number {
    return (this.parts.clock ?? Date.now)();
  }

  /**
   * Calls `listener` at the end of each round (the stats streams; nsboxd's /metrics, which
   * writes the new samples then): the round ends, and counts what it cost, once every
   * listener's promise settled. Returns the unsubscribe.
   */
  onRound(listener: () => void | Promise<void>): () => void {
    this.roundListeners.add(listener);
    return () => this.roundListeners.delete(listener);
  }

  /** One round over every running box: read, record, observe. */
  async sampleOnce(): Promise<BoxSample[]> {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const time = this.now();
    const running = this.parts.boxes.list({ state: 'running' });
    const contributed = await this.contributed(running);
    const samples: BoxSample[] = [];
    for (const box of running) {
      try {
        const sample = this.parts.reader.read(box, time, contributed.get(box.name) ?? []);
        if (sample) samples.push(sample);
      } catch (error) {
        this.log?.warn(`cannot sample box ${box.name}: ${(error as Error).message}`);
      }
    }
    this.parts.reader.retain(new Set(running.map((box) => box.id)));
    this.parts.history.record(samples);
    this.recordEvents(samples);
    const live = new Set(samples.map((sample) => sample.boxId));
    for (const id of this.latest.keys()) {
      if (live.has(id)) continue;
      this.latest.delete(id);
      this.previous.delete(id);
    }
    for (const sample of samples) {
      const before = this.latest.get(sample.boxId);
      if (before) this.previous.set(sample.boxId, before);
      this.latest.set(sample.boxId, sample);
    }
    // Counted as its samples become what readers get: a scrape while the listeners below run
    // already shows them, and must not be taken for one of the round before.
    this.cost.rounds += 1;
    if (time - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = time;
      this.parts.history.prune(
        time,
        this.parts.boxes.list().map((box) => box.id),
      );
    }
    // A listener's failure is its own (the samples are taken and kept).
    await Promise.allSettled([...this.roundListeners].map(async (listener) => listener()));
    const used = process.cpuUsage(cpu);
    this.cost.boxes = samples.length;
    this.cost.samples += samples.length;
    this.cost.reused = this.parts.reader.reused;
    this.cost.cpuMs += (used.user + used.system) / 1000;
    this.cost.wallMs += performance.now() - wall;
    return samples;
  }

  private async contributed(boxes: Box[]): Promise<Map<string, MetricSample[]>> {
    const byBox = new Map<string, MetricSample[]>();
    if (boxes.length === 0) return byBox;
    for (const contribution of this.parts.contributions()) {
      try {
        for (const metric of await contribution.collect(boxes)) {
          const box = metric.labels['box'];
          if (box !== undefined) byBox.set(box, [...(byBox.get(box) ?? []), metric]);
        }
      } catch (error) {
        this.log?.warn(`a metrics contribution failed: ${(error as Error).message}`);
      }
    }
    return byBox;
  }

  private recordEvents(samples: BoxSample[]): void {
    const { victims: fresh, seccomp } = this.parts.kernelLog.take();
    // Victims wait for the count that goes with them (the kernel logs before the count shows, or after).
    this.victims = [...this.victims, ...fresh].slice(-256);
    const denials = attributeDenials(seccomp.denials, samples);
    this.seccomp.expected += denials.expected;
    this.seccomp.unattributed += denials.unattributed;
    this.seccomp.suppressed += seccomp.suppressed;
    for (const sample of samples) {
      const trail = this.trails.get(sample.boxId) ?? this.restoredTrail(sample);
      const { pressureThreshold: pressure, diskFullPercent: diskFull } = this.parts.settings;
      const { events, trail: next } = observe(sample, trail, this.victims, { pressure, diskFull });
      this.trails.set(sample.boxId, next);
      const denied = denials.byBox.get(sample.boxId) ?? [];
      if (sample.seccomp || denied.length > 0) {
        const total = (this.denialTotals.get(sample.boxId) ?? 0) + denied.length;
        this.denialTotals.set(sample.boxId, total);
        sample.seccompDenials = total;
        this.seccomp.denials += denied.length;
        if (denied.length > 0) events.push(denialEvent(sample, denied, total, seccomp.suppressed));
      }
      for (const event of events) {
        if (event.kind === 'tracking.oom-kill') this.victims = this.victims.filter((victim) => !isVictimOf(victim, sample));
        this.parts.events.publish({ boxId: sample.boxId, kind: event.kind, source: 'tracking', data: event.data });
      }
    }
    const live = new Set(samples.map((sample) => sample.boxId));
    for (const id of this.trails.keys()) if (!live.has(id)) this.trails.delete(id);
    for (const id of this.denialTotals.keys()) if (!live.has(id)) this.denialTotals.delete(id);
  }

  /**
   * After an agent restart the counters of the last point recorded stand for the trail, so a
   * kill that happened while no agent ran is still reported (once: the history has it now).
   */
  private restoredTrail(sample: BoxSample): BoxTrail | undefined {
    const last = this.parts.history.latest(sample.boxId);
    if (!last || last.time >= sample.time) return undefined;
    return {
      oomKills: last.oomKills ?? 0,
      pidsLimitHits: last.pidsLimitHits ?? 0,
      throttledPeriods: last.throttledPeriods ?? 0,
      throttledUsec: last.throttledUsec ?? 0,
      pressure: { memory: false, io: false },
      diskFull: { space: false, inodes: false },
    };
  }

  /** The host service the agent starts and stops. */
  service(): HostService {
    return {
      name: 'sampler',
      start: ({ signal, log }) => {
        this.log = log;
        const interval = this.parts.settings.intervalSeconds * 1000;
        const round = () => {
          if (signal.aborted) return;
          this.running = this.sampleOnce()
            .then(
              () => undefined,
              (error: unknown) => log.warn(`sampling failed: ${(error as Error).message}`),
            )
            .finally(() => {
              if (!signal.aborted) this.timer = setTimeout(round, interval);
            });
        };
        round();
      },
      stop: async () => {
        clearTimeout(this.timer);
        this.timer = undefined;
        await this.running;
        this.parts.kernelLog.close();
      },
    };
  }
}
