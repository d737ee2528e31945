/**
 * Box operations: the state machine driven through the plugins' hooks and the box driver,
 * each operation journaled so that a failure is undone and a crash is reconciled.
 */

import { randomUUID } from 'node:crypto';
import { type Box, type BoxConfig, boxNameProblem, type OperationKind, operations, type StableState } from './box.js';
import { validateBoxConfig } from './config.js';
import { NsboxError } from './errors.js';
import type { BoxEvent, EventBus } from './events.js';
import type { OciSpec } from './oci-spec.js';
import { OperationRun, undoSteps } from './operation.js';
import { type HookName, teardownHooks } from './plugin.js';
import type { LoadedPlugin, PluginHost } from './plugin-host.js';
import type { BoxDriver, BoxListFilter, BoxRepository, DriverStatus, HistoryQuery, HistoryRepository, OperationJournal, OperationRecord } from './ports.js';

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
}

/** Operations that tear down are finished by reconcile; the others are rolled back. */
const rollForward: readonly OperationKind[] = ['stop', 'destroy'];

/** Whether a process exists (EPERM still means it does). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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
  async create(input: CreateBoxInput): Promise<Box> {
    const problem = boxNameProblem(input.name);
    if (problem) throw new NsboxError('E_INVALID_ARGUMENT', problem, { details: { field: 'name' } });
    if (this.deps.boxes.find(input.name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box named '${input.name}' already exists`, { details: { box: input.name } });
    }
    const config = await this.validateConfig(input.config, input.name);
    const now = this.clock();
    const box: Box = { id: randomUUID(), name: input.name, owner: input.owner ?? null, config, state: 'defined', runtime: {}, createdAt: now, updatedAt: now };
    await this.runHooks(box, 'validate', this.specFor(box));
    try {
      this.deps.boxes.insert(box);
    } catch (error) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box named '${input.name}' already exists`, { details: { box: input.name }, cause: error });
    }
    this.publish(box, 'box.defined', { owner: box.owner });
    try {
      return await this.operate(box, 'create', async (run) => {
        await run.step({
          id: 'driver:create',
          run: async () => {
            box.runtime = { ...box.runtime, ...(await this.driver().create(box)) };
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

  async start(idOrName: string): Promise<Box> {
    const box = this.get(idOrName);
    return this.operate(box, 'start', async (run) => {
      const spec = this.specFor(box);
      const plugins = this.deps.host.pluginsFor(box);
      await this.forwardHook(run, box, plugins, 'validate', spec);
      await this.forwardHook(run, box, plugins, 'spec', spec);
      await this.forwardHook(run, box, plugins, 'prepare', spec);
      await run.step({
        id: 'driver:start',
        run: async () => {
          box.runtime = { ...box.runtime, ...(await this.driver().start(box, spec)), spec };
          this.deps.boxes.update(box);
        },
      });
      await this.forwardHook(run, box, plugins, 'started', spec);
    });
  }

  async stop(idOrName: string, options: { timeoutMs?: number } = {}): Promise<Box> {
    const box = await this.sync(idOrName);
    if (box.state === 'stopped') return box;
    return this.operate(box, 'stop', async () => {
      await this.teardown(box, 'stopping');
      const status = await this.driver().stop(box, { timeoutMs: options.timeoutMs ?? 10_000 });
      box.runtime = { ...box.runtime, exit: status };
      await this.teardown(box, 'stopped');
    });
  }

  async restart(idOrName: string, options: { timeoutMs?: number } = {}): Promise<Box> {
    await this.stop(idOrName, options);
    return this.start(idOrName);
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
  async update(idOrName: string, changes: Record<string, unknown>): Promise<Box> {
    const box = this.get(idOrName);
    const previous = box.config;
    const next = await this.validateConfig(mergeSections(previous, changes), box.name);
    box.config = next;
    const live = box.state === 'running' || box.state === 'paused';
    return this.operate(
      box,
      'update',
      async (run) => {
        if (!live) return;
        const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box);
        for (const plugin of this.deps.host.pluginsFor(box)) {
          const hook = plugin.hooks?.update;
          const name = plugin.definition.name;
          if (!hook || JSON.stringify(previous[name]) === JSON.stringify(next[name])) continue;
          await run.step({
            id: `hook:${name}:update`,
            run: async () => hook.call(plugin.hooks, { ...this.context(box, plugin, spec), previous: previous[name] }),
          });
        }
      },
      () => {
        box.config = previous;
      },
    );
  }

  async destroy(idOrName: string, options: { force?: boolean } = {}): Promise<void> {
    let box = await this.sync(idOrName);
    if (options.force && (box.state === 'running' || box.state === 'paused')) box = await this.stop(box.id, { timeoutMs: 0 });
    await this.operate(box, 'destroy', async () => {
      await this.teardown(box, 'destroy');
      await this.driver().destroy(box);
    });
    this.deps.boxes.remove(box.id);
    this.publish(box, 'box.removed', {});
  }

  /** Brings a running box's stored state in line with the driver (an init that exited). */
  async sync(idOrName: string): Promise<Box> {
    const box = this.get(idOrName);
    if ((box.state !== 'running' && box.state !== 'paused') || !this.deps.driver) return box;
    const status: DriverStatus = await this.deps.driver.status(box);
    if (status.state === box.state) return box;
    if (status.state === 'stopped') {
      // init is gone: finish the stop as `stop` would, in the same order (plugins read
      // their counters while the box's cgroup still exists).
      await this.teardown(box, 'stopping');
      await this.deps.driver.stop(box, { timeoutMs: 0 }).catch((error: Error) => this.publish(box, 'driver.failed', { action: 'stop', error: error.message }));
      await this.teardown(box, 'stopped');
      box.runtime = { ...box.runtime, exit: status };
    }
    this.transition(box, status.state, { exit: status });
    return box;
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
        const errors = await undoSteps(record.doneSteps, (stepId) => this.undoStep(box, stepId));
        if (record.kind === 'start' || record.kind === 'restore') await this.deps.driver?.cleanupStart(box);
        if (record.kind === 'create') {
          this.deps.boxes.remove(box.id);
        } else {
          this.transition(box, record.fromState, { reconciled: record.kind });
        }
        this.deps.journal.finish(record.id, 'rolled-back', errors.join('; ') || undefined);
        this.publish(box, 'operation.rolled-back', { operation: record.kind, undone: [...record.doneSteps].reverse(), errors });
      }
      repaired.push(record);
    }
    for (const box of this.deps.boxes.list()) {
      if (box.state === 'running' || box.state === 'paused') await this.sync(box.id);
    }
    await this.deps.driver?.reconcile?.(this.deps.boxes.list());
    return repaired;
  }

  private async finishTeardown(box: Box, record: OperationRecord): Promise<void> {
    const driver = this.driver();
    if (record.kind === 'stop') {
      await driver.stop(box, { timeoutMs: 0 });
      await this.teardown(box, 'stopped');
      this.transition(box, 'stopped', { reconciled: 'stop' });
    } else {
      await this.teardown(box, 'destroy');
      await driver.destroy(box);
      this.deps.boxes.remove(box.id);
    }
    this.deps.journal.finish(record.id, 'done', 'finished by reconcile');
    this.publish(box, 'operation.finished', { operation: record.kind });
  }

  private async operate(box: Box, kind: OperationKind, body: (run: OperationRun) => Promise<void>, onFailure?: () => void): Promise<Box> {
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

  private async forwardHook(run: OperationRun, box: Box, plugins: LoadedPlugin[], hook: HookName, spec: OciSpec): Promise<void> {
    for (const plugin of plugins) {
      const fn = plugin.hooks?.[hook];
      if (!fn) continue;
      await run.step({ id: `hook:${plugin.definition.name}:${hook}`, run: async () => fn.call(plugin.hooks, this.context(box, plugin, spec)) });
    }
  }

  /** Teardown hooks run in reverse order and never stop at a failure: each is reported. */
  private async teardown(box: Box, hook: HookName): Promise<void> {
    if (!teardownHooks.includes(hook)) throw new Error(`${hook} is not a teardown hook`);
    const spec = (box.runtime.spec as OciSpec | undefined) ?? this.specFor(box);
    for (const plugin of [...this.deps.host.pluginsFor(box)].reverse()) {
      const fn = plugin.hooks?.[hook];
      if (!fn) continue;
      try {
        await fn.call(plugin.hooks, this.context(box, plugin, spec));
      } catch (error) {
        this.publish(box, 'hook.failed', { plugin: plugin.definition.name, hook, error: (error as Error).message });
      }
    }
  }

  private async runHooks(box: Box, hook: HookName, spec: OciSpec): Promise<void> {
    for (const plugin of this.deps.host.pluginsFor(box)) {
      await plugin.hooks?.[hook]?.call(plugin.hooks, this.context(box, plugin, spec));
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
    await plugin.hooks.rollback(this.context(box, plugin, spec), second as HookName);
  }

  private context(box: Box, plugin: LoadedPlugin, spec: OciSpec) {
    const source = plugin.definition.name;
    return {
      box,
      config: box.config[source],
      spec,
      report: (kind: string, data: Record<string, unknown> = {}) => {
        this.publish(box, `${source}.${kind}`, data, source);
      },
    };
  }

  private specFor(box: Box): OciSpec {
    if (this.deps.driver) return this.deps.driver.baseSpec(box);
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

/** A change replaces whole plugin sections; `null` removes a section. */
function mergeSections(config: BoxConfig, changes: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...config };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}
