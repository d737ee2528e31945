/**
 * The IO burst controller, a host service of the resident agent beside the CPU bias (see
 * io-burst.ts for the bucket): every tick (`ioTickMs`) it reads each watched box's byte
 * counters for its disk, advances its buckets and, when one ran dry or saved its minimum again,
 * declares sharing's resources with the new throttle through the runtime's arbitration.
 */

import { advanceIo, sameThrottle } from './io-burst.js';
import { OWNER } from './owner.js';
import { ShareController } from './share-controller.js';
import { recordResources } from './share-registry.js';

export interface IoBurstChange {
  boxId: string;
  /** Which directions are drained now (held at the sustained rate). */
  drained: { read?: boolean; write?: boolean };
  tokens: { read?: number; write?: number };
}

export class IoBurstController extends ShareController {
  protected readonly name = 'io burst';

  /** One look at every box with an IO burst; returns those whose throttle changed. */
  tick(): IoBurstChange[] {
    const changed: IoBurstChange[] = [];
    for (const { boxId, record } of this.registry.list()) {
      const burst = record.config.io?.burst;
      if (!burst || !record.io) continue;
      const stats = this.cgroups.stats({ id: boxId });
      if (!stats) continue; // no cgroup: stopped between the list and now
      const disk = stats.io.find((entry) => entry.device === record.io?.device);
      const io = advanceIo(burst, record.io, { read: disk?.readBytes ?? 0, write: disk?.writeBytes ?? 0 }, this.clock());
      const next = { ...record, io };
      if (!sameThrottle(burst, record.io, io)) {
        this.cgroups.apply({ id: boxId }, OWNER, recordResources(next));
        changed.push({
          boxId,
          drained: { read: io.read?.drained, write: io.write?.drained },
          tokens: { read: io.read?.tokens, write: io.write?.tokens },
        });
      }
      this.registry.save(boxId, next);
    }
    return changed;
  }
}
