/**
 * The bias controller, a host service of the resident agent (nsboxd, `nsboxd --agent`): every
 * tick it reads the CPU usage of each running box with a biased bucket, advances its bucket and,
 * when the weight it should have changed, declares sharing's resources again with that weight
 * through the runtime's arbitration. Boxes never depend on it: stopped, the weights stay as last
 * written; started again, it picks the boxes up from the plugin state (share-registry.ts).
 */

import type { CpuShare } from './config-schema.js';
import { OWNER } from './owner.js';
import { ShareController } from './share-controller.js';
import { recordResources } from './share-registry.js';
import { advance, biasedWeight } from './token-bucket.js';

export class BiasController extends ShareController {
  protected readonly name = 'bias';

  /** One look at every watched box; returns the boxes whose weight changed, with their new weight. */
  tick(): { boxId: string; weight: number; tokens: number }[] {
    const changed: { boxId: string; weight: number; tokens: number }[] = [];
    for (const { boxId, record } of this.registry.list()) {
      const cpu = record.config.cpu as CpuShare | undefined;
      if (!cpu || !record.bucket) continue; // watched for its IO burst only
      const stats = this.cgroups.stats({ id: boxId })?.cpu;
      if (stats?.usageUsec === undefined) continue; // no cgroup: stopped between the list and now
      const usage = { usageUsec: stats.usageUsec, ...(stats.throttledPeriods !== undefined ? { throttledPeriods: stats.throttledPeriods } : {}) };
      const bucket = advance(cpu, record.bucket, usage, this.clock());
      const weight = biasedWeight(cpu, bucket);
      const next = { ...record, bucket, weight };
      if (weight !== record.weight) {
        this.cgroups.apply({ id: boxId }, OWNER, recordResources(next));
        changed.push({ boxId, weight, tokens: bucket.tokens });
      }
      this.registry.save(boxId, next);
    }
    return changed;
  }
}
