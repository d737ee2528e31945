/**
 * The agent's box watcher: an init that ends is noticed at once (the runtime's exit watch
 * sees the shim's exit.json) and settled through the core's `sync` — the `exited` hooks,
 * the stop's tear-down, the box's restart policy. A periodic sweep syncs every running box
 * as well: it catches what inotify cannot see (a shim that was killed writes no file, an
 * event queue that overflowed) and exits whose settling was refused because another process
 * held an operation on the box at that moment. A restart an exit policy delayed (a backoff,
 * `runtime.pendingRestart`) is carried out when it is due, by a timer, or by the first sweep of
 * the next agent when it fell due while none ran.
 */

import { type Box, type BoxManager, isStable, type OperationLog, operationContext } from '@nsbox/core';
import { ExitWatch } from '@nsbox/runtime';

export interface BoxWatcherOptions {
  manager: BoxManager;
  /** `<state-dir>/boxes` (the Linux driver's `boxesDir`). */
  boxesDir: string;
  log: OperationLog;
  /** Between two sweeps (default 5 s). */
  sweepMs?: number;
  /** First retry of an exit that could not be settled yet; doubles up to `sweepMs` (default 50 ms). */
  retryMs?: number;
}

export class BoxWatcher {
  private readonly exits: ExitWatch;
  /** Per box: the settling running now, and whether another was asked for meanwhile. */
  private readonly busy = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly retries = new Map<string, { timer: NodeJS.Timeout | undefined; delay: number }>();
  /** Per box: the timer of a restart a policy delayed. */
  private readonly delayedRestarts = new Map<string, NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: BoxWatcherOptions) {
    this.exits = new ExitWatch({
      boxesDir: options.boxesDir,
      onExit: (boxId) => this.settle(boxId),
      onError: (boxId, error) =>
        options.log.warn(`cannot watch ${boxId ? `box ${boxId}` : options.boxesDir} for exits (the sweep covers it): ${error.message}`),
    });
  }

  start(): void {
    this.exits.start();
    const sweepMs = this.options.sweepMs ?? 5000;
    this.sweeper = setInterval(() => this.sweep(), sweepMs);
  }

  /** Stops watching; waits for the settlings under way (a box is never left half torn down by us). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const { timer } of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    for (const timer of this.delayedRestarts.values()) clearTimeout(timer);
    this.delayedRestarts.clear();
    this.exits.close();
    await Promise.all([...this.busy.values()].map((entry) => entry.done));
  }

  /** Syncs every box that runs (or is starting or stopping) by the store. */
  sweep(): void {
    if (this.closed) return;
    let boxes: Box[];
    try {
      boxes = this.options.manager.list();
    } catch (error) {
      this.options.log.warn(`sweep: cannot list boxes: ${(error as Error).message}`);
      return;
    }
    for (const box of boxes) {
      if (box.state === 'running' || box.state === 'paused' || !isStable(box.state) || pendingRestart(box)) this.settle(box.id);
    }
  }

  /** Syncs one box; one settling per box at a time, the next one queued behind it. */
  settle(boxId: string): void {
    if (this.closed) return;
    const running = this.busy.get(boxId);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.syncOnce(boxId);
      } while (entry.again && !this.closed);
      this.busy.delete(boxId);
    })();
    this.busy.set(boxId, entry);
  }

  private async syncOnce(boxId: string): Promise<void> {
    let box: Box;
    try {
      const ctx = operationContext({ log: this.options.log });
      box = await this.options.manager.sync(boxId, ctx);
      if (box.state === 'stopped' && pendingRestart(box)) box = await this.options.manager.restartDue(boxId, ctx);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'E_NOT_FOUND') {
        this.forgetRetry(boxId); // a directory no box owns (yet, or any more)
        return;
      }
      this.options.log.warn(`cannot settle box ${boxId}: ${(error as Error).message}`);
      this.retryLater(boxId);
      return;
    }
    // An exit this process could not settle now: another one holds an operation on the box
    // (a start still under way, a CLI settling it). Ask again shortly, unless it is done.
    const pending = (!isStable(box.state) || box.state === 'running' || box.state === 'paused') && this.exits.hasExited(box.id);
    if (pending) this.retryLater(box.id);
    else this.forgetRetry(box.id);
    const restart = box.state === 'stopped' ? pendingRestart(box) : undefined;
    if (restart) this.restartAt(box.id, restart.at);
  }

  /** Settles the box again when its delayed restart is due. */
  private restartAt(boxId: string, at: number): void {
    if (this.closed || this.delayedRestarts.has(boxId)) return;
    const timer = setTimeout(
      () => {
        this.delayedRestarts.delete(boxId);
        this.settle(boxId);
      },
      Math.max(0, at - Date.now()),
    );
    this.delayedRestarts.set(boxId, timer);
  }

  private retryLater(boxId: string): void {
    if (this.closed) return;
    const entry = this.retries.get(boxId) ?? { timer: undefined, delay: 0 };
    if (entry.timer) return;
    entry.delay = Math.min(entry.delay ? entry.delay * 2 : (this.options.retryMs ?? 50), this.options.sweepMs ?? 5000);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.settle(boxId);
    }, entry.delay);
    this.retries.set(boxId, entry);
  }

  private forgetRetry(boxId: string): void {
    clearTimeout(this.retries.get(boxId)?.timer);
    this.retries.delete(boxId);
  }
}

function pendingRestart(box: Box): { at: number } | undefined {
  return box.runtime.pendingRestart as { at: number } | undefined;
}
