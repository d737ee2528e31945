/**
 * The bias controller, a host service of the resident agent (nsboxd, `nsboxd --agent`): every
 * tick it reads the CPU usage of each running box with a biased bucket, advances its bucket and,
 * when the weight it should have changed, declares sharing's resources again with that weight
 * through the runtime's arbitration. Boxes never depend on it: stopped, the weights stay as last
 * written; started again, it picks the boxes up from the plugin state.
 *
 * Plugin state, namespace `sharing.bias`: box id → { cpu (the box's section), bucket (its
 * state), weight (last declared) }, written at `configure`/`update`, removed at stop.
 */

import type { OperationLog, PluginStateStore } from '@nsbox/core';
import type { CgroupManager } from '@nsbox/runtime-api';
import type { CpuShare, SharingConfig } from './config-schema.js';
import { OWNER } from './owner.js';
import { shareResources } from './shares.js';
import { advance, type BucketState, biasedWeight, freshBucket } from './token-bucket.js';

const NAMESPACE = 'sharing.bias';

export interface BiasRecord {
  config: SharingConfig;
  bucket: BucketState;
  weight: number;
}

export class BiasRegistry {
  constructor(private readonly state: PluginStateStore) {}

  get(boxId: string): BiasRecord | undefined {
    const text = this.state.get(NAMESPACE, boxId);
    return text === undefined ? undefined : (JSON.parse(text) as BiasRecord);
  }

  /** A box whose section biases its CPU weight is watched from now on (its bucket kept when it was already). */
  watch(boxId: string, config: SharingConfig): BiasRecord | undefined {
    const cpu = config.cpu;
    if (!cpu || cpu.bias <= 0) {
      this.forget(boxId);
      return undefined;
    }
    const bucket = this.get(boxId)?.bucket ?? freshBucket(cpu);
    const record = { config, bucket, weight: biasedWeight(cpu, bucket) };
    this.save(boxId, record);
    return record;
  }

  save(boxId: string, record: BiasRecord): void {
    this.state.set(NAMESPACE, boxId, JSON.stringify(record));
  }

  forget(boxId: string): void {
    this.state.delete(NAMESPACE, boxId);
  }

  list(): { boxId: string; record: BiasRecord }[] {
    return this.state.list(NAMESPACE).map(({ key, value }) => ({ boxId: key, record: JSON.parse(value) as BiasRecord }));
  }
}

export class BiasController {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: BiasRegistry,
    private readonly cgroups: CgroupManager,
    private readonly tickMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  start(log: OperationLog): void {
    this.stop();
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (error) {
        log.warn(`sharing bias: ${(error as Error).message}`);
      }
    }, this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at every watched box; returns the boxes whose weight changed, with their new weight. */
  tick(): { boxId: string; weight: number; tokens: number }[] {
    const changed: { boxId: string; weight: number; tokens: number }[] = [];
    for (const { boxId, record } of this.registry.list()) {
      const cpu = record.config.cpu as CpuShare;
      const stats = this.cgroups.stats({ id: boxId })?.cpu;
      if (stats?.usageUsec === undefined) continue; // no cgroup: stopped between the list and now
      const usage = { usageUsec: stats.usageUsec, ...(stats.throttledPeriods !== undefined ? { throttledPeriods: stats.throttledPeriods } : {}) };
      const bucket = advance(cpu, record.bucket, usage, this.clock());
      const weight = biasedWeight(cpu, bucket);
      if (weight !== record.weight) {
        this.cgroups.apply({ id: boxId }, OWNER, shareResources(record.config, weight));
        changed.push({ boxId, weight, tokens: bucket.tokens });
      }
      this.registry.save(boxId, { ...record, bucket, weight });
    }
    return changed;
  }
}
