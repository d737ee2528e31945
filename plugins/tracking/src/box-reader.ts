/** Reads one sample of a box from the runtime's cgroup manager and driver, and its root's filesystem. */

import type { Box, MetricSample, OciSpec } from '@nsbox/core';
import type { BoxCgroup, CgroupManager } from '@nsbox/runtime-api';
import { diskUsage, ownFilesystem, rootPathOf } from './disk-usage.js';
import { boxPids, processCensus } from './process-census.js';
import type { BoxSample, SeccompIdentity } from './sample.js';
import { expectedErrnoSyscalls, logsDenials } from './seccomp-filter.js';

export type ReadableBox = Pick<Box, 'id' | 'name' | 'owner' | 'runtime' | 'updatedAt'>;

/** What a box's earlier reading found that holds until the box changes (its record's updatedAt). */
interface Known {
  updatedAt: number;
  root: string | undefined;
  /** Whether the root is a filesystem of its own (undefined: not known yet). */
  own?: boolean;
  cgroup?: BoxCgroup;
  seccomp: SeccompIdentity | undefined;
}

/** How the box's seccomp records are told apart, from the spec its start ran (undefined: its filter does not log). */
function seccompIdentity(box: ReadableBox): SeccompIdentity | undefined {
  const spec = box.runtime?.spec as OciSpec | undefined;
  if (!logsDenials(spec?.linux?.seccomp)) return undefined;
  const uids = (spec?.linux?.uidMappings ?? []).map(({ hostID, size }) => [hostID, hostID + size - 1] as const);
  return { uids, expected: expectedErrnoSyscalls(spec?.linux?.seccomp) };
}

export class BoxReader {
  /** By box id: the sampler reads every running box each round, and this stays the same. */
  private readonly known = new Map<string, Known>();

  constructor(private readonly manager: CgroupManager) {}

  /** undefined when the box has no cgroup (not running, or gone meanwhile). */
  read(box: ReadableBox, time: number, contributed: MetricSample[] = []): BoxSample | undefined {
    let known = this.known.get(box.id);
    if (known?.updatedAt !== box.updatedAt) {
      // Its start (or any change) may have moved its root: the spec is read again.
      known = { updatedAt: box.updatedAt, root: rootPathOf(box), seccomp: seccompIdentity(box) };
      this.known.set(box.id, known);
    }
    const usage = this.manager.usage(box, known.cgroup);
    if (!usage) {
      this.known.delete(box.id);
      return undefined;
    }
    const { cgroup, stats, events } = usage;
    known.cgroup = cgroup;
    if (known.root !== undefined && known.own === undefined) known.own = ownFilesystem(known.root);
    const disk = known.root === undefined || known.own === undefined ? undefined : diskUsage(known.root, known.own);
    const memoryCgroupDir = cgroup.v1Dirs.memory ?? cgroup.unifiedDir;
    const pids = boxPids(cgroup);
    return {
      boxId: box.id,
      box: box.name,
      tenant: box.owner,
      ...(memoryCgroupDir !== undefined ? { memoryCgroupDir } : {}),
      time,
      stats,
      events,
      census: processCensus(pids),
      ...(disk ? { disk } : {}),
      contributed,
      pids,
      ...(known.seccomp ? { seccomp: known.seccomp } : {}),
    };
  }

  /** Forgets what it knew of boxes other than these (the running ones, after a round). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.known.keys()) if (!ids.has(id)) this.known.delete(id);
  }
}
