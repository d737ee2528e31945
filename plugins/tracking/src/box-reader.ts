/** Reads one sample of a box from the runtime's cgroup manager and driver, and its root's filesystem. */

import type { Box, MetricSample } from '@nsbox/core';
import type { CgroupManager } from '@nsbox/runtime-api';
import { diskUsage, rootPathOf } from './disk-usage.js';
import { boxPids, processCensus } from './process-census.js';
import type { BoxSample } from './sample.js';

export class BoxReader {
  constructor(private readonly manager: CgroupManager) {}

  /** undefined when the box has no cgroup (not running, or gone meanwhile). */
  read(box: Pick<Box, 'id' | 'name' | 'owner' | 'runtime'>, time: number, contributed: MetricSample[] = []): BoxSample | undefined {
    const usage = this.manager.usage(box);
    if (!usage) return undefined;
    const { cgroup, stats, events } = usage;
    const root = rootPathOf(box);
    const disk = root === undefined ? undefined : diskUsage(root);
    const memoryCgroupDir = cgroup.v1Dirs.memory ?? cgroup.unifiedDir;
    return {
      boxId: box.id,
      box: box.name,
      tenant: box.owner,
      ...(memoryCgroupDir !== undefined ? { memoryCgroupDir } : {}),
      time,
      stats,
      events,
      census: processCensus(boxPids(cgroup)),
      ...(disk ? { disk } : {}),
      contributed,
    };
  }
}
