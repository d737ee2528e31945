/** A controller's tick on a timer that never keeps the process alive; a failed tick is logged, the next one runs. */

import type { OperationLog } from '@nsbox/core';

export class Ticker {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly tickMs: number,
    private readonly tick: () => unknown,
  ) {}

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
