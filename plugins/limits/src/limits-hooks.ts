/** The lifecycle hooks of the limits plugin; the work is in LimitsService. */

import { type HookContext, type HookName, inject, injectable, type LifecycleHooks } from '@nsbox/core';
import type { LimitsConfig } from './config-schema.js';
import { LimitsService } from './limits-service.js';

type Context = HookContext<LimitsConfig>;

@injectable()
export class LimitsHooks implements LifecycleHooks<LimitsConfig> {
  constructor(@inject(LimitsService) private readonly limits: LimitsService) {}

  /**
   * Refuses what this host cannot enforce before anything is made. A change of a stopped box
   * (the only validate that finds the box in a stable state: a create finds it `defined`, a
   * start `starting`) is checked as a whole, as a running box's change is in `update`: its
   * disk included, whichever face asked (nsbox set, PATCH /boxes/:id).
   */
  validate(context: Context): void {
    const { box } = context;
    if (box.state === 'created' || box.state === 'stopped') this.limits.checkChange(box, context.config);
    else this.limits.checkHost(box, context.config);
  }

  spec(context: Context): void {
    this.limits.editSpec(context.box, context.config, context.spec);
  }

  async prepare(context: Context): Promise<void> {
    await this.limits.prepare(context.box, context.config);
  }

  /** The runtime made the box's cgroup: limits declares its resources (the runtime merges and writes them). */
  configure(context: Context): void {
    this.limits.configure(context.box, context.config);
  }

  async update(context: Context): Promise<void> {
    await this.limits.update(context.box, context.previous, context.config, context.spec);
  }

  /** The last look at the counters while the cgroup is still there. */
  stopping(context: Context): void {
    if (this.limits.involved(context.box)) this.limits.events.poll(context.box);
  }

  stopped(context: Context): void {
    this.limits.stopped(context.box);
  }

  destroy(context: Context): void {
    this.limits.destroy(context.box);
  }

  /**
   * The core journals a step once it is done: a process killed inside prepare (a first disk
   * image up on its loop device, not yet recorded) leaves only the spec step before it in
   * the journal, so undoing spec takes down what prepare may have begun (idempotent).
   */
  async rollback(context: Context, hook: HookName): Promise<void> {
    if (hook === 'prepare' || hook === 'spec') this.limits.undoPrepare(context.box);
    else if (hook === 'update') await this.limits.undoUpdate(context.box, context.spec);
  }
}
