/**
 * Box operations: the state machine driven through the plugins' hooks and the box driver,
 * each operation journaled so that a failure is undone and a crash is reconciled.
 */

import { randomUUID } from 'node:crypto';
import { type Box, type BoxConfig, boxNameProblem, type OperationKind, operations, type StableState } from './box.js';
import { validateBoxConfig } from './config.js';
import { type ExitDecision, exitPolicyPoint } from './contribution-points.js';
import { NsboxError } from './errors.js';
import type { BoxEvent, EventBus } from './events.js';
import type { OciSpec } from './oci-spec.js';
import { OperationRun, stepsToUndo, undoSteps } from './operation.js';
import { type OperationContext, operationContext } from './operation-context.js';
import { type BoxExitInfo, type HookContext, type HookName, teardownHooks } from './plugin.js';
import type { LoadedPlugin, PluginHost } from './plugin-host.js';
import type {
  BoxDriver,
  BoxListFilter,
  BoxRepository,
  CheckpointOptions,
  DriverStatus,
  HistoryQuery,
  HistoryRepository,
  OperationJournal,
  OperationRecord,
  RestoreOptions,
  StartMoments,
} from './ports.js';
import { isProcessAlive } from './process-alive.js';
import { sectionDefaults } from './tenant-policy.js';

export interface BoxManagerDeps {
  host: PluginHost;
  boxes: BoxRepository;
  history: HistoryRepository;
  journal: OperationJournal;
  events: EventBus;
  driver?: BoxDriver;
  clock?: () => number;
  /** Whether the process that ran an operation is still alive (a seam for tests). */
  processAlive?: (pid: number) => boolean;
}

export interface CreateBoxInput {
  name: string;
  owner?: string | null;
  config: unknown;
  /**
   * The box's id, for a box that moves between hosts (the migration plugin's import): it keeps
   * the id its cgroup, its MAC address and its checkpoint images were made with. A new one
   * otherwise.
   */
  id?: string;
}

const BOX_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Operations that tear down are finished by reconcile; the others are rolled back. */
const rollForward: readonly OperationKind[] = ['stop', 'destroy'];

export class BoxManager {
  private readonly clock: () => number;
  private readonly processAlive: (pid: number) => boolean;

  constructor(private readonly deps: BoxManagerDeps) {
    this.clock = deps.clock ?? Date.now;
    this.processAlive = deps.processAlive ?? isProcessAlive;
  }

  get host(): PluginHost {
    return this.deps.host;
  }

  /** Validates a config against the core and every plugin that would apply to it. */
  async validateConfig(config: unknown, name = 'config'): Promise<BoxConfig> {
    const draft = { name, config: (typeof config === 'object' && config ? config : {}) as BoxConfig };
    this.deps.host.pluginsFor(draft); // refuses disabling a plugin that another one needs
    return validateBoxConfig(config, this.deps.host.definitions());
  }

  get(idOrName: string): Box {
    const box = this.deps.boxes.find(idOrName);
    if (!box) throw new NsboxError('E_NOT_FOUND', `no box named '${idOrName}'`, { details: { box: idOrName } });
    return box;
  }

  list(filter?: BoxListFilter): Box[] {
    return this.deps.boxes.list(filter);
  }

  history(query: HistoryQuery): BoxEvent[] {
    return this.deps.history.query(query);
  }

  /** Defines the box (validated, persisted) and runs the driver's create step. */
  async create(input: CreateBoxInput, ctx: OperationContext = operationContext()): Promise<Box> {
    const problem = boxNameProblem(input.name);
    if (problem) throw new NsboxError('E_INVALID_ARGUMENT', problem, { details: { field: 'name' } });
    if (this.deps.boxes.find(input.name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box named '${input.name}' already exists`, { details: { box: input.name } });
    }
    if (input.id !== undefined && !BOX_ID.test(input.id)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `box id '${input.id}' is not a lowercase UUID`, { details: { field: 'id' } });
    }
    if (input.id !== undefined && this.deps.boxes.find(input.id)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box with id '${input.id}' already exists`, { details: { field: 'id', box: input.id } });
    }
    const config = await this.validateConfig(input.config, input.name);
    const now = this.clock();
    const box: Box = {
      id: input.id ?? randomUUID(),
      name: input.name,
      owner: input.owner ?? null,
      config,
      state: 'defined',
      runtime: {},
      createdAt: now,
      updatedAt: now,
    };
    await this.runHooks(box, 'validate', this.specFor(box, ctx), ctx);
    try {
      this.deps.boxes.insert(box);
    } catch (error) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box named '${input.name}' already exists`, { details: { box: input.name }, cause: error });
    }
    this.publish(box, 'box.defined', { owner: box.owner });
    try {
      return await this.operate(box, 'create', async (run) => {
        // Provision first: a plugin that chooses the box's rootfs layers does so before the driver makes the rootfs.
        await this.forwardHook(run, box, this.deps.host.pluginsFor(box), 'provision', this.specFor(box, ctx), ctx);
        await run.step({
          id: 'driver:create',
          run: async () => {
            box.runtime = { ...box.runtime, ...(await this.driver().create(box, ctx)) };
          },
        });
      });
    } catch (error) {
      // A box that could not be created is not left half-defined: the name is free again.
      this.deps.boxes.remove(box.id);
      this.publish(box, 'box.removed', { reason: (error as Error).message });
      throw error;
    }
  }

  async start(idOrName: string, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = this.get(idOrName);
    // A start by anyone replaces a restart a policy had scheduled, and the reason it last stopped.
    if (box.state === 'stopped' && (box.runtime.pendingRestart || box.runtime.stopReason)) {
      const { stopReason: _reason, ...runtime } = withoutPendingRestart(box.runtime);
      box.runtime = runtime;
    }
    return this.operate(box, 'start', async (run) => {
      const spec = await this.prepareLaunch(run, box, ctx);
      await run.step({
        id: 'driver:start',
        run: async () => {
          box.runtime = { ...box.runtime, ...(await this.driver().start(box, spec, ctx, this.moments(run, box, spec, ctx))), spec };
          this.deps.boxes.update(box);
        },
      });
      await this.forwardHook(run, box, this.deps.host.pluginsFor(box), 'started', spec, ctx);
    });
  }

  /** validate → spec → prepare: what a start and a restore share before the driver acts. */
  private async prepareLaunch(run: OperationRun, box: Box, ctx: OperationContext): Promise<OciSpec> {
    const spec = this.specFor(box, ctx);
    const plugins = this.deps.host.pluginsFor(box);
    await this.forwardHook(run, box, plugins, 'validate', spec, ctx);
    await this.forwardHook(run, box, plugins, 'spec', spec, ctx);
    await this.forwardHook(run, box, plugins, 'prepare', spec, ctx);
    return spec;
  }

  /**
   * The driver's moments as journaled hook steps. They run inside the driver's step: a
   * failure there undoes them (and the driver tears down what it made).
   */
  private moments(run: OperationRun, box: Box, spec: OciSpec, ctx: OperationContext): StartMoments {
    const plugins = this.deps.host.pluginsFor(box);
    const wiring = plugins.filter(
      (plugin) => plugin.hooks?.wire !== undefined && (plugin.hooks.wires?.call(plugin.hooks, this.context(box, plugin, spec, ctx)) ?? true),
    );
    return {
      wiring: wiring.length > 0,
      configure: () => this.forwardHook(run, box, plugins, 'configure', spec, ctx),
      wire: async (facts) => {
        box.runtime = { ...box.runtime, ...facts };
        await this.forwardHook(run, box, wiring, 'wire', spec, ctx);
      },
    };
  }

  async stop(idOrName: string, options: { timeoutMs?: number } = {}, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = await this.sync(idOrName, ctx);
    if (box.state === 'stopped') {
      // A stop asked for while a policy's restart waits: the box stays stopped.
      if (box.runtime.pendingRestart) {
        box.runtime = withoutPendingRestart(box.runtime);
        this.save(box);
        this.publish(box, 'box.restart-cancelled', {});
      }
      return box;
    }
    return this.operate(box, 'stop', async () => {
      await this.teardown(box, 'stopping', ctx);
      const timeoutMs = options.timeoutMs ?? 10_000;
      const status = await this.driver().stop(box, { timeoutMs });
      // An init that ignored its stop signal was killed: say so (a box that cannot shut down cleanly).
      if (status.killedAfterMs !== undefined) this.publish(box, 'box.stop-forced', { timeoutMs: status.killedAfterMs, signal: status.signal });
      box.runtime = { ...box.runtime, exit: status };
      await this.teardown(box, 'stopped', ctx);
    });
  }

  async restart(idOrName: string, options: { timeoutMs?: number } = {}, ctx: OperationContext = operationContext()): Promise<Box> {
    await this.stop(idOrName, options, ctx);
    return this.start(idOrName, ctx);
  }

  /**
   * Saves a running box's processes through the driver's checkpoint engine; the plugins'
   * checkpoint hooks run first (a network plugin records its addresses, limits its knobs).
   */
  async checkpoint(idOrName: string, options: CheckpointOptions, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = await this.sync(idOrName, ctx);
    const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box, ctx);
    await this.operate(box, 'checkpoint', async (run) => {
      await this.forwardHook(run, box, this.deps.host.pluginsFor(box), 'checkpoint', spec, ctx);
      await run.step({
        id: 'driver:checkpoint',
        run: async () => {
          box.runtime = { ...box.runtime, checkpoint: await this.driver().checkpoint(box, options, ctx) };
        },
      });
    });
    if (!options.leaveRunning && !options.preDump) {
      // The dump ended the box's processes: finish the stop as an init exit would.
      const status = await this.driver().status(box);
      if (status.state === 'stopped') {
        await this.operate(box, 'stop', async () => {
          await this.teardown(box, 'stopping', ctx);
          box.runtime = { ...box.runtime, exit: await this.driver().stop(box, { timeoutMs: 0 }) };
          await this.teardown(box, 'stopped', ctx);
        });
      }
    }
    return box;
  }

  /** Brings a checkpointed box back: validate → spec → prepare → driver restore (configure, wire) → restore → started. */
  async restore(idOrName: string, options: RestoreOptions, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = this.get(idOrName);
    return this.operate(box, 'restore', async (run) => {
      const spec = await this.prepareLaunch(run, box, ctx);
      await run.step({
        id: 'driver:restore',
        run: async () => {
          box.runtime = { ...box.runtime, ...(await this.driver().restore(box, spec, options, ctx, this.moments(run, box, spec, ctx))), spec };
          this.deps.boxes.update(box);
        },
      });
      const plugins = this.deps.host.pluginsFor(box);
      await this.forwardHook(run, box, plugins, 'restore', spec, ctx);
      await this.forwardHook(run, box, plugins, 'started', spec, ctx);
    });
  }

  async kill(idOrName: string, signal: number): Promise<void> {
    const box = this.get(idOrName);
    if (box.state !== 'running' && box.state !== 'paused') {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}, not running`, { details: { box: box.name, state: box.state } });
    }
    await this.driver().kill(box, signal);
    this.publish(box, 'box.signaled', { signal });
  }

  async pause(idOrName: string): Promise<Box> {
    const box = this.get(idOrName);
    return this.operate(box, 'pause', async (run) => {
      await run.step({ id: 'driver:pause', run: () => this.driver().pause(box) });
    });
  }

  async resume(idOrName: string): Promise<Box> {
    const box = this.get(idOrName);
    return this.operate(box, 'resume', async (run) => {
      await run.step({ id: 'driver:resume', run: () => this.driver().resume(box) });
    });
  }

  /** Changes a box's config; on a running box the plugins' update hooks apply it live. */
  async update(idOrName: string, changes: Record<string, unknown>, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = this.get(idOrName);
    const previous = box.config;
    const next = await this.validateConfig(mergeSections(previous, changes), box.name);
    box.config = next;
    const live = box.state === 'running' || box.state === 'paused';
    // A stopped box's new config is checked against this host now, not at its next start.
    if (!live) await this.runHooks(box, 'validate', this.specFor(box, ctx), ctx);
    return this.operate(
      box,
      'update',
      async (run) => {
        if (!live) return;
        const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box, ctx);
        for (const plugin of this.deps.host.pluginsFor(box)) {
          const hook = plugin.hooks?.update;
          const name = plugin.definition.name;
          if (!hook || JSON.stringify(previous[name]) === JSON.stringify(next[name])) continue;
          await run.step({
            id: `hook:${name}:update`,
            run: async () => hook.call(plugin.hooks, { ...this.context(box, plugin, spec, ctx), previous: previous[name] }),
          });
        }
      },
      () => {
        box.config = previous;
      },
    );
  }

  async destroy(idOrName: string, options: { force?: boolean } = {}, ctx: OperationContext = operationContext()): Promise<void> {
    let box = await this.syncAfterOtherStop(idOrName, ctx);
    if (options.force && (box.state === 'running' || box.state === 'paused')) box = await this.stop(box.id, { timeoutMs: 0 }, ctx);
    await this.operate(box, 'destroy', async () => {
      await this.teardown(box, 'destroy', ctx);
      await this.driver().destroy(box);
    });
    this.deps.boxes.remove(box.id);
    this.publish(box, 'box.removed', {});
  }

  /**
   * Brings a running box's stored state in line with the driver. An init that ended by itself
   * runs the `exited` hooks, then the stop's tear-down in the stop's order (plugins read their
   * counters while the cgroup still exists), then the box's restart policy. The resident
   * agent's watcher calls it the moment an init ends; any face calls it before acting, so two
   * processes may call it for the same exit at once: only one of them settles it. A box just
   * read (a list's) may be passed instead of its name: it is not read again.
   */
  async sync(idOrName: string | Box, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = typeof idOrName === 'string' ? this.get(idOrName) : idOrName;
    if (!isLive(box) || !this.deps.driver) return box;
    const status: DriverStatus = await this.deps.driver.status(box);
    if (status.state === box.state) return box;
    if (status.state !== 'stopped') {
      this.transition(box, status.state, { exit: status });
      return box;
    }
    const settled = await this.settleExit(box, ctx);
    if (!settled) return this.get(box.id);
    return this.restartByPolicy(settled.box, settled.exit, ctx);
  }

  /**
   * sync, and while another flow or process stops the box (settles its init's end: `run --rm`'s
   * destroy comes as the resident agent runs the exit's hooks), wait for it, a bounded time,
   * rather than fail with E_BUSY: the box is stopped by then, and what the caller asked follows.
   */
  private async syncAfterOtherStop(idOrName: string, ctx: OperationContext): Promise<Box> {
    const deadline = this.clock() + OTHER_STOP_WAIT_MS;
    for (;;) {
      const box = await this.sync(idOrName, ctx);
      if (!this.stopInFlight(box) || this.clock() >= deadline) return box;
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Whether a live flow or process (this one's included: the agent's watcher) is stopping the box. */
  private stopInFlight(box: Box): boolean {
    return this.deps.journal.unfinished().some((op) => op.boxId === box.id && op.kind === 'stop' && this.processAlive(op.pid));
  }

  /**
   * The tear-down of an init that ended, run once. The journal's stop record is the lock: it
   * is refused (E_BUSY) while another live process — the agent, a CLI — holds an operation on
   * the box, and once it is held the box is read again, because the other one may have
   * settled (and restarted) it in between. Undefined when there was nothing left to settle.
   */
  private async settleExit(seen: Box, ctx: OperationContext): Promise<{ box: Box; exit: BoxExitInfo } | undefined> {
    const driver = this.driver();
    let record: OperationRecord;
    try {
      record = this.deps.journal.begin({ boxId: seen.id, kind: 'stop', fromState: seen.state as StableState, pid: process.pid });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'E_BUSY') return undefined;
      throw error;
    }
    try {
      const box = this.deps.boxes.find(seen.id);
      const status = box && isLive(box) ? await driver.status(box) : undefined;
      if (!box || status?.state !== 'stopped') {
        this.deps.journal.finish(record.id, 'done', 'nothing to settle: another process did');
        return undefined;
      }
      // Marks the stop as an init's end: a reconcile that finishes it applies the restart policy.
      this.deps.journal.stepDone(record.id, EXIT_STEP);
      const exit = exitInfo(status);
      await this.teardown(box, 'exited', ctx, exit);
      await this.teardown(box, 'stopping', ctx);
      await driver.stop(box, { timeoutMs: 0 }).catch((error: Error) => this.publish(box, 'driver.failed', { action: 'stop', error: error.message }));
      await this.teardown(box, 'stopped', ctx);
      box.runtime = { ...box.runtime, exit: status };
      this.transition(box, 'stopped', { exit: status, reason: exit.reason });
      this.deps.journal.finish(record.id, 'done');
      return { box, exit };
    } catch (error) {
      this.deps.journal.finish(record.id, 'failed', (error as Error).message);
      throw error;
    }
  }

  /**
   * After an init's end: a reboot from inside restarts, a halt never; otherwise `config.restart`
   * — unless an exit policy of a plugin (exitPolicyPoint) decides otherwise: a restart later
   * (a backoff, kept in `runtime.pendingRestart` and carried out by `restartDue`), or none, with
   * the reason kept in `runtime.stopReason`.
   */
  private async restartByPolicy(box: Box, exit: BoxExitInfo, ctx: OperationContext): Promise<Box> {
    const policy = box.config.restart ?? 'no';
    const decision = await this.exitDecision(box, exit, restartWanted(policy, exit));
    if (!decision.restart) {
      if (decision.reason) {
        box.runtime = { ...box.runtime, stopReason: decision.reason };
        this.save(box);
        this.publish(box, 'box.not-restarted', { reason: exit.reason, why: decision.reason, policy });
      }
      return box;
    }
    const delayMs = decision.delayMs ?? 0;
    if (delayMs > 0) {
      const pendingRestart: PendingRestart = { at: this.clock() + delayMs, reason: exit.reason, policy };
      box.runtime = { ...box.runtime, pendingRestart };
      this.save(box);
      this.publish(box, 'box.restart-scheduled', { reason: exit.reason, policy, delayMs, at: pendingRestart.at });
      return box;
    }
    return this.restartNow(box, exit.reason, policy, ctx);
  }

  private async exitDecision(box: Box, exit: BoxExitInfo, restartByDefault: boolean): Promise<ExitDecision> {
    await this.loadDefaults();
    const applying = new Set(this.deps.host.pluginsFor(box).map((plugin) => plugin.definition.name));
    for (const policy of this.deps.host.contributions(exitPolicyPoint)) {
      if (!applying.has(policy.plugin)) continue;
      const config = box.config[policy.plugin] ?? this.defaults[policy.plugin];
      const decision = policy.decide({ box, exit, config, restartByDefault, now: this.clock() });
      if (decision) return decision;
    }
    return { restart: restartByDefault };
  }

  private async restartNow(box: Box, reason: BoxExitInfo['reason'], policy: string, ctx: OperationContext): Promise<Box> {
    this.publish(box, 'box.restarting', { reason, policy });
    const began = this.clock();
    const previousInit = (box.runtime.init as { pid?: number } | undefined)?.pid;
    try {
      const started = await this.start(box.id, ctx);
      if (reason === 'reboot') {
        const init = (started.runtime.init as { pid?: number } | undefined)?.pid;
        this.publish(started, 'box.rebooted', { previousInit, init, tookMs: this.clock() - began });
      }
      return started;
    } catch (error) {
      this.publish(box, 'box.restart-failed', { error: (error as Error).message });
      return this.deps.boxes.find(box.id) ?? box;
    }
  }

  /**
   * Carries out a restart a policy delayed, once it is due: the resident agent calls it when
   * the delay ends, and for every box at its start (a restart due while nsboxd was down).
   * A box started, stopped or destroyed meanwhile by someone else keeps what they did.
   */
  async restartDue(idOrName: string, ctx: OperationContext = operationContext()): Promise<Box> {
    const box = this.get(idOrName);
    const pending = box.runtime.pendingRestart as PendingRestart | undefined;
    if (!pending || box.state !== 'stopped' || pending.at > this.clock()) return box;
    box.runtime = withoutPendingRestart(box.runtime);
    this.save(box);
    return this.restartNow(box, pending.reason, pending.policy, ctx);
  }

  /**
   * Repairs what processes killed mid-operation left: tear-downs are finished, everything
   * else is rolled back to the state the box was in before. Then boxes whose init died
   * while nobody watched are marked stopped, and the driver removes leftovers.
   */
  async reconcile(): Promise<OperationRecord[]> {
    const repaired: OperationRecord[] = [];
    for (const record of this.deps.journal.unfinished()) {
      if (record.pid !== process.pid && this.processAlive(record.pid)) continue;
      const box = this.deps.boxes.find(record.boxId);
      if (!box) {
        this.deps.journal.finish(record.id, 'rolled-back', 'box no longer exists');
        repaired.push(record);
        continue;
      }
      if (rollForward.includes(record.kind)) {
        await this.finishTeardown(box, record);
      } else {
        const undone = stepsToUndo(record);
        const errors = await undoSteps(undone, (stepId) => this.undoStep(box, stepId));
        if (record.kind === 'start' || record.kind === 'restore') await this.deps.driver?.cleanupStart(box);
        if (record.kind === 'create') {
          this.deps.boxes.remove(box.id);
        } else {
          this.transition(box, record.fromState, { reconciled: record.kind });
        }
        this.deps.journal.finish(record.id, 'rolled-back', errors.join('; ') || undefined);
        this.publish(box, 'operation.rolled-back', { operation: record.kind, undone: [...undone].reverse(), errors });
      }
      repaired.push(record);
    }
    for (const box of this.deps.boxes.list()) {
      if (isLive(box)) await this.sync(box.id);
    }
    await this.deps.driver?.reconcile?.(this.deps.boxes.list());
    return repaired;
  }

  private async finishTeardown(box: Box, record: OperationRecord): Promise<void> {
    const driver = this.driver();
    if (record.kind === 'stop') {
      await driver.stop(box, { timeoutMs: 0 });
      await this.teardown(box, 'stopped', operationContext());
      this.transition(box, 'stopped', { reconciled: 'stop' });
    } else {
      await this.teardown(box, 'destroy', operationContext());
      await driver.destroy(box);
      this.deps.boxes.remove(box.id);
    }
    this.deps.journal.finish(record.id, 'done', 'finished by reconcile');
    this.publish(box, 'operation.finished', { operation: record.kind });
    // The process that settled an init's end died before the box's restart policy could act.
    if (record.kind === 'stop' && record.doneSteps.includes(EXIT_STEP)) {
      await this.restartByPolicy(box, exitInfo(await driver.status(box)), operationContext());
    }
  }

  private async operate(box: Box, kind: OperationKind, body: (run: OperationRun) => Promise<void>, onFailure?: () => void): Promise<Box> {
    await this.loadDefaults();
    const rule = operations[kind];
    if (!(rule.from as readonly string[]).includes(box.state)) {
      throw new NsboxError('E_INVALID_STATE', `cannot ${kind} box '${box.name}': it is ${box.state}`, {
        details: { box: box.name, state: box.state, operation: kind, allowed: rule.from },
      });
    }
    const fromState = box.state as StableState;
    const record = this.deps.journal.begin({ boxId: box.id, kind, fromState, pid: process.pid });
    const run = new OperationRun(this.deps.journal, record, (stepId) => this.undoStep(box, stepId));
    if (rule.via) this.transition(box, rule.via);
    try {
      await body(run);
    } catch (error) {
      onFailure?.();
      this.deps.journal.finish(record.id, 'failed', (error as Error).message);
      this.transition(box, fromState, { failed: kind, error: (error as Error).message });
      throw error;
    }
    if (rule.to) this.transition(box, rule.to);
    else this.save(box);
    this.deps.journal.finish(record.id, 'done');
    return box;
  }

  private async forwardHook(run: OperationRun, box: Box, plugins: LoadedPlugin[], hook: HookName, spec: OciSpec, ctx: OperationContext): Promise<void> {
    for (const plugin of plugins) {
      const fn = plugin.hooks?.[hook];
      if (!fn) continue;
      ctx.signal.throwIfAborted();
      await run.step({
        id: `hook:${plugin.definition.name}:${hook}`,
        run: async () => fn.call(plugin.hooks, this.context(box, plugin, spec, ctx)),
        undoable: plugin.hooks?.rollback !== undefined,
      });
    }
  }

  /** Teardown hooks run in reverse order and never stop at a failure: each is reported. */
  private async teardown(box: Box, hook: HookName, ctx: OperationContext, exit?: BoxExitInfo): Promise<void> {
    await this.loadDefaults();
    if (!teardownHooks.includes(hook)) throw new Error(`${hook} is not a teardown hook`);
    const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box, ctx);
    for (const plugin of [...this.deps.host.pluginsFor(box)].reverse()) {
      const fn = plugin.hooks?.[hook];
      if (!fn) continue;
      try {
        await fn.call(plugin.hooks, { ...this.context(box, plugin, spec, ctx), ...(exit ? { exit } : {}) });
      } catch (error) {
        this.publish(box, 'hook.failed', { plugin: plugin.definition.name, hook, error: (error as Error).message });
      }
    }
  }

  private async runHooks(box: Box, hook: HookName, spec: OciSpec, ctx: OperationContext): Promise<void> {
    await this.loadDefaults();
    for (const plugin of this.deps.host.pluginsFor(box)) {
      await plugin.hooks?.[hook]?.call(plugin.hooks, this.context(box, plugin, spec, ctx));
    }
  }

  private async undoStep(box: Box, stepId: string): Promise<void> {
    const [kind, first, second] = stepId.split(':');
    if (kind === 'driver') {
      const driver = this.driver();
      if (first === 'create') await driver.destroy(box);
      else if (first === 'start') {
        await driver.stop(box, { timeoutMs: 0 });
        await driver.cleanupStart(box);
      } else if (first === 'pause') await driver.resume(box);
      else if (first === 'resume') await driver.pause(box);
      return;
    }
    const plugin = this.deps.host.plugins.find((loaded) => loaded.definition.name === first);
    if (!plugin?.hooks?.rollback) return;
    const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box);
    await plugin.hooks.rollback(this.context(box, plugin, spec, operationContext()), second as HookName);
  }

  /**
   * Each plugin's section with its schema's defaults, for boxes that have no section: hooks
   * see the defaults (the stored config keeps only what was given).
   */
  private defaults: Record<string, unknown> = {};
  private defaultsLoaded: Promise<void> | undefined;
  private async loadDefaults(): Promise<void> {
    this.defaultsLoaded ??= sectionDefaults(this.deps.host.definitions()).then((defaults) => {
      this.defaults = defaults;
    });
    await this.defaultsLoaded;
  }

  private context(box: Box, plugin: LoadedPlugin, spec: OciSpec, operation: OperationContext): HookContext {
    const source = plugin.definition.name;
    return {
      box,
      config: box.config[source] ?? this.defaults[source],
      spec,
      operation,
      report: (kind: string, data: Record<string, unknown> = {}) => {
        this.publish(box, `${source}.${kind}`, data, source);
      },
    };
  }

  private specFor(box: Box, ctx?: OperationContext): OciSpec {
    if (this.deps.driver) return this.deps.driver.baseSpec(box, ctx);
    return {
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: box.config.process?.args ?? ['/sbin/init'], cwd: '/' },
      root: { path: box.config.rootfs ?? '' },
      mounts: [],
      linux: { namespaces: [] },
    };
  }

  private driver(): BoxDriver {
    if (!this.deps.driver) throw new NsboxError('E_UNSUPPORTED', 'no box driver is installed: boxes can be defined and validated, not run');
    return this.deps.driver;
  }

  private transition(box: Box, state: Box['state'], data: Record<string, unknown> = {}): void {
    const from = box.state;
    box.state = state;
    this.save(box);
    this.publish(box, `state.${state}`, { from, ...data });
  }

  private save(box: Box): void {
    box.updatedAt = this.clock();
    this.deps.boxes.update(box);
  }

  private publish(box: Box, kind: string, data: Record<string, unknown>, source = 'core'): void {
    this.deps.events.publish({ boxId: box.id, kind, source, data: { box: box.name, ...data } });
  }
}

/** A restart an exit policy delayed (`box.runtime.pendingRestart`). */
interface PendingRestart {
  at: number;
  reason: BoxExitInfo['reason'];
  policy: string;
}

function withoutPendingRestart(runtime: Record<string, unknown>): Record<string, unknown> {
  const { pendingRestart: _pending, ...rest } = runtime;
  return rest;
}

/** The journal step that marks a stop as the settling of an init that ended by itself. */
const EXIT_STEP = 'core:exited';

/** How long a destroy waits for another's stop of the box (its plugins' tear-down hooks) to end. */
const OTHER_STOP_WAIT_MS = 30_000;

function isLive(box: Box): boolean {
  return box.state === 'running' || box.state === 'paused';
}

/** reboot(2) in a box's pid namespace ends its init with SIGHUP (restart) or SIGINT (halt, power off). */
function exitInfo(status: DriverStatus): BoxExitInfo {
  const codes = { ...(status.exitCode !== undefined ? { exitCode: status.exitCode } : {}), ...(status.signal !== undefined ? { signal: status.signal } : {}) };
  if (status.signal === 1) return { reason: 'reboot', ...codes };
  if (status.signal === 2) return { reason: 'halt', ...codes };
  return { reason: status.signal !== undefined ? 'signal' : 'exit', ...codes };
}

function restartWanted(policy: 'no' | 'on-failure' | 'always', exit: BoxExitInfo): boolean {
  if (exit.reason === 'reboot') return true;
  if (exit.reason === 'halt') return false;
  if (policy === 'always') return true;
  return policy === 'on-failure' && (exit.reason === 'signal' || (exit.exitCode ?? 0) !== 0);
}

/** A change replaces whole plugin sections; `null` removes a section. */
function mergeSections(config: BoxConfig, changes: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...config };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}
