/**
 * Reads one sample of a box from the runtime's cgroup manager and driver, and its root's
 * filesystem. A box that did not run since its last full reading (activity-probe.ts: one
 * file instead of some twenty, its processes and its root's statfs) is given that reading
 * again, at the new time, until it is `fullEveryMs` old: what may still change meanwhile
 * without the box running (memory the host reclaims, writeback charged to it, PSI averages
 * decaying, its filesystem written from outside) shows at the latest then.
 */

import type { Box, MetricSample, OciSpec } from '@nsbox/core';
import type { BoxCgroup, CgroupManager } from '@nsbox/runtime-api';
import { activityFile, readActivity } from './activity-probe.js';
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
  /** The last full reading, and the box's CPU-time file as it read then. */
  full?: { sample: BoxSample; activity: string };
}

/** How the box's seccomp records are told apart, from the spec its start ran (undefined: its filter does not log). */
function seccompIdentity(box: ReadableBox): SeccompIdentity | undefined {
  const spec = box.runtime?.spec as OciSpec | undefined;
  if (!logsDenials(spec?.linux?.seccomp)) return undefined;
  const uids = (spec?.linux?.uidMappings ?? []).map(({ hostID, size }) => [hostID, hostID + size - 1] as const);
  return { uids, expected: expectedErrnoSyscalls(spec?.linux?.seccomp) };
}

export class BoxReader {
  /** Readings given again to a box that did not run (what the sampler's cost shows). */
  reused = 0;
  /** By box id: the sampler reads every running box each round, and this stays the same. */
  private readonly known = new Map<string, Known>();

  /** `fullEveryMs`: how old a reading may be given again to a box that did not run (0: never). */
  constructor(
    private readonly manager: CgroupManager,
    private readonly fullEveryMs = 0,
  ) {}

  /** undefined when the box has no cgroup (not running, or gone meanwhile). */
  read(box: ReadableBox, time: number, contributed: MetricSample[] = []): BoxSample | undefined {
    let known = this.known.get(box.id);
    if (known?.updatedAt !== box.updatedAt) {
      // Its start (or any change) may have moved its root: the spec is read again.
      known = { updatedAt: box.updatedAt, root: rootPathOf(box), seccomp: seccompIdentity(box) };
      this.known.set(box.id, known);
    }
    const again = this.again(known, time, contributed);
    if (again) return again;
    const file = known.cgroup && activityFile(known.cgroup);
    // Read before the rest: a task running meanwhile changes it again, and the next round reads
    // in full. (The first reading of a box has no cgroup yet to read it from: the second keeps it.)
    const activity = file === undefined ? undefined : readActivity(file);
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
    const sample: BoxSample = {
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
    if (activity !== undefined) known.full = { sample, activity };
    else delete known.full;
    return sample;
  }

  /** The last full reading at `time`, if the box did not run since and it is recent enough. */
  private again(known: Known, time: number, contributed: MetricSample[]): BoxSample | undefined {
    const full = known.full;
    if (!full || !known.cgroup || time - full.sample.time >= this.fullEveryMs) return undefined;
    const file = activityFile(known.cgroup);
    if (file === undefined || readActivity(file) !== full.activity) return undefined;
    const { seccompDenials: _counted, ...same } = full.sample;
    this.reused += 1;
    return { ...same, time, contributed };
  }

  /** Forgets what it knew of boxes other than these (the running ones, after a round). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.known.keys()) if (!ids.has(id)) this.known.delete(id);
  }
}
