/**
 * What the resident agent's controllers keep of each running box whose shares move by
 * themselves (a CPU bias, an IO burst allowance), in the plugin state, namespace
 * `sharing.bias`: box id → { config (the box's section), the CPU bucket and the weight last
 * declared, the IO buckets }. Written at `configure`/`update`, removed at stop. Both
 * controllers declare sharing's whole resources from one record, so neither erases the other's.
 */

import type { PluginStateStore } from '@nsbox/core';
import type { BoxResources } from '@nsbox/runtime-api';
import type { SharingConfig } from './config-schema.js';
import { freshIoBurst, type IoBurstState } from './io-burst.js';
import { shareResources } from './shares.js';
import { type BucketState, biasedWeight, freshBucket } from './token-bucket.js';

const NAMESPACE = 'sharing.bias';

export interface ShareRecord {
  config: SharingConfig;
  /** The CPU bucket, with a bias. */
  bucket?: BucketState;
  /** The CPU weight last declared, with a bias. */
  weight?: number;
  /** The IO buckets, with an IO burst. */
  io?: IoBurstState;
}

export class ShareRegistry {
  constructor(private readonly state: PluginStateStore) {}

  get(boxId: string): ShareRecord | undefined {
    const text = this.state.get(NAMESPACE, boxId);
    return text === undefined ? undefined : (JSON.parse(text) as ShareRecord);
  }

  /**
   * A box whose section biases its CPU weight or has an IO burst is watched from now on (its
   * buckets kept when it was already, the IO ones while the disk stays); `disk`: the one its
   * IO burst counts. Returns the record, or undefined when there is nothing to watch.
   */
  watch(boxId: string, config: SharingConfig, disk?: string): ShareRecord | undefined {
    const cpu = config.cpu;
    const burst = config.io?.burst;
    const biased = cpu !== undefined && cpu.bias > 0;
    if (!biased && !(burst && disk)) {
      this.forget(boxId);
      return undefined;
    }
    const known = this.get(boxId);
    const record: ShareRecord = { config };
    if (biased) {
      record.bucket = known?.bucket ?? freshBucket(cpu);
      record.weight = biasedWeight(cpu, record.bucket);
    }
    if (burst && disk) record.io = known?.io?.device === disk ? known.io : freshIoBurst(burst, disk);
    this.save(boxId, record);
    return record;
  }

  save(boxId: string, record: ShareRecord): void {
    this.state.set(NAMESPACE, boxId, JSON.stringify(record));
  }

  forget(boxId: string): void {
    this.state.delete(NAMESPACE, boxId);
  }

  list(): { boxId: string; record: ShareRecord }[] {
    return this.state.list(NAMESPACE).map(({ key, value }) => ({ boxId: key, record: JSON.parse(value) as ShareRecord }));
  }
}

/** sharing's resources for a watched box: its section with the bias's weight and the IO buckets' throttle. */
export function recordResources(record: ShareRecord): BoxResources {
  return shareResources(record.config, { weight: record.weight, io: record.io });
}
