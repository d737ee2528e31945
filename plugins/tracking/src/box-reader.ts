/** Reads one sample of a box from the runtime's cgroup manager and driver, and its root's filesystem. */

import type { Box, MetricSample } from '@nsbox/core';
import type { CgroupDriver, CgroupManager } from '@nsbox/runtime-api';
import { diskUsage, rootPathOf } from './disk-usage.js';
import { processCensus } from './process-census.js';
import type { BoxSample } from './sample.js';

export class BoxReader {
  constructor(
    private readonly manager: CgroupManager,
    private readonly cgroups: CgroupDriver,
  ) {}

  /** undefined when the box has no cgroup (not running, or gone meanwhile). */
  read(box: Pick<Box, 'id' | 'name' | 'owner' | 'runtime'>, time: number, contributed: MetricSample[] = []): BoxSample | undefined {
    const stats = this.manager.stats(box);
    const events = this.manager.events(box);
    if (!stats || !events) return undefined;
    const root = rootPathOf(box);
    const disk = root === undefined ? undefined : diskUsage(root);
    return {
      boxId: box.id,
      box: box.name,
      tenant: box.owner,
      time,
      stats,
      events,
      census: processCensus(this.cgroups.pids(box.id)),
      ...(disk ? { disk } : {}),
      contributed,
    };
  }
}
