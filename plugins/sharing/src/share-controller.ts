/**
 * What the resident agent's share controllers (the CPU bias, the IO burst) have in common: the
 * watched boxes' record, the cgroup manager, a clock, and a tick on a timer that never keeps the
 * process alive (a failed tick is logged, the next one runs).
 */

import type { OperationLog } from '@nsbox/core';
import type { CgroupManager } from '@nsbox/runtime-api';
import type { ShareRegistry } from './share-registry.js';

export abstract class ShareController {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly registry: ShareRegistry,
    protected readonly cgroups: CgroupManager,
    private readonly tickMs: number,
    protected readonly clock: () => number = Date.now,
  ) {}

  /** The name in the logs ('bias', 'io burst'). */
  protected abstract readonly name: string;

  /** One look at every watched box. */
  abstract tick(): unknown;

  start(log: OperationLog): void {
    this.stop();
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (error) {
        log.warn(`sharing ${this.name}: ${(error as Error).message}`);
      }
    }, this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
