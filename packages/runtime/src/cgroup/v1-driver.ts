/**
 * cgroup v1: one directory per box in each hierarchy we use, freezing through the freezer
 * controller, killing by pid list. Documentation/admin-guide/cgroup-v1/ describes the files.
 */
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, type CgroupDriver, DEFAULT_TIMEOUT_MS, FREEZE_TIMEOUT_MS, type KillOptions } from './cgroup-driver.js';
import {
  childCgroups,
  ensureDirectory,
  existingControllerFile,
  isDirectory,
  pollUntil,
  readCgroupFile,
  readCgroupFileIfExists,
  removeEmptyLevels,
  removeSubtree,
  retryWhileParentVanishes,
  subtreeDeepestFirst,
  subtreePids,
  writeCgroupFile,
} from './cgroup-fs.js';
import { assertBoxName, assertControllerFile, parentSegments } from './cgroup-names.js';
import { assertNotSelf, killUntilEmpty, signalAll } from './kill-loop.js';
import type { CgroupLayout } from './layout.js';

/** The v1 controllers a box is placed in, in the order its procs files are listed. */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'freezer', 'devices'] as const;

/** One mounted hierarchy; co-mounted controllers (cpu,cpuacct) share it. */
interface V1Hierarchy {
  mount: string;
  controllers: string[];
}

// A freeze that does not settle in this time during kill is given up: SIGKILL goes anyway.
const KILL_FREEZE_WAIT_MS = 1000;

export class V1Driver implements CgroupDriver {
  readonly hierarchies: V1Hierarchy[];
  private readonly levels: string[];

  constructor(
    readonly layout: CgroupLayout,
    readonly parent: string,
  ) {
    this.levels = parentSegments(parent);
    const byMount = new Map<string, V1Hierarchy>();
    for (const controller of V1_CONTROLLERS) {
      const mount = layout.v1[controller];
      if (mount === undefined) continue;
      const hierarchy = byMount.get(mount) ?? { mount, controllers: [] };
      hierarchy.controllers.push(controller);
      byMount.set(mount, hierarchy);
    }
    this.hierarchies = [...byMount.values()];
    if (this.hierarchies.length === 0) {
      throw new NsboxError('E_UNSUPPORTED', `no v1 hierarchy of ${V1_CONTROLLERS.join(', ')} is mounted`, { details: { v1: layout.v1 } });
    }
  }

  hasController(controller: string): boolean {
    return this.hierarchies.some((hierarchy) => hierarchy.controllers.includes(controller));
  }

  private boxDir(hierarchy: V1Hierarchy, name: string): string {
    return join(hierarchy.mount, ...this.levels, name);
  }

  private describe(name: string): BoxCgroup {
    const v1Dirs: Record<string, string> = {};
    for (const hierarchy of this.hierarchies) {
      for (const controller of hierarchy.controllers) v1Dirs[controller] = this.boxDir(hierarchy, name);
    }
    return { name, procsFiles: this.hierarchies.map((hierarchy) => join(this.boxDir(hierarchy, name), 'cgroup.procs')), v1Dirs };
  }

  create(name: string): BoxCgroup {
    assertBoxName(name);
    retryWhileParentVanishes(() => {
      for (const hierarchy of this.hierarchies) {
        let dir = hierarchy.mount;
        for (const level of [...this.levels, name]) {
          const child = join(dir, level);
          ensureDirectory(child);
          if (hierarchy.controllers.includes('cpuset')) inheritCpuset(dir, child);
          dir = child;
        }
      }
    });
    return this.describe(name);
  }

  get(name: string): BoxCgroup | undefined {
    assertBoxName(name);
    const complete = this.hierarchies.every((hierarchy) => isDirectory(this.boxDir(hierarchy, name)));
    return complete ? this.describe(name) : undefined;
  }

  exists(name: string): boolean {
    return this.hierarchies.some((hierarchy) => isDirectory(this.boxDir(hierarchy, name)));
  }

  list(): string[] {
    // At the roots every other child belongs to someone else: a root driver owns no list.
    if (this.levels.length === 0) return [];
    const names = new Set(this.hierarchies.flatMap((hierarchy) => childCgroups(join(hierarchy.mount, ...this.levels))));
    return [...names].sort();
  }

  pids(name: string): number[] {
    assertBoxName(name);
    const pids = new Set(this.hierarchies.flatMap((hierarchy) => subtreePids(this.boxDir(hierarchy, name))));
    return [...pids].sort((a, b) => a - b);
  }

  isPopulated(name: string): boolean {
    return this.pids(name).length > 0;
  }

  /** The box's directory in the freezer hierarchy; E_UNSUPPORTED without one. */
  private freezerDir(name: string): string {
    const hierarchy = this.hierarchies.find((candidate) => candidate.controllers.includes('freezer'));
    if (hierarchy === undefined)
      throw new NsboxError('E_UNSUPPORTED', 'the freezer controller is not mounted on this host', { details: { v1: this.layout.v1 } });
    return this.boxDir(hierarchy, name);
  }

  private requireBox(name: string): void {
    assertBoxName(name);
    if (!this.exists(name)) throw new NsboxError('E_NOT_FOUND', `cgroup ${this.parent}/${name} does not exist`, { details: { name, parent: this.parent } });
  }

  /** FROZEN, FREEZING or THAWED; undefined when the box has no freezer directory. */
  freezerState(name: string): string | undefined {
    if (!this.hasController('freezer')) return undefined;
    return readCgroupFileIfExists(join(this.freezerDir(name), 'freezer.state'))?.trim();
  }

  async freeze(name: string): Promise<void> {
    this.requireBox(name);
    const state = join(this.freezerDir(name), 'freezer.state');
    writeCgroupFile(state, 'FROZEN');
    // The state reads FREEZING until every task has stopped.
    if (!(await pollUntil(() => readCgroupFile(state).trim() === 'FROZEN', Date.now() + FREEZE_TIMEOUT_MS))) {
      // Half-frozen is worse than either state: leave it running and say so.
      writeCgroupFile(state, 'THAWED');
      throw new NsboxError('E_RUNTIME', `cgroup ${this.parent}/${name} did not freeze within ${FREEZE_TIMEOUT_MS} ms`, { details: { name, path: state } });
    }
  }

  async thaw(name: string): Promise<void> {
    this.requireBox(name);
    const state = join(this.freezerDir(name), 'freezer.state');
    writeCgroupFile(state, 'THAWED');
    if (!(await pollUntil(() => readCgroupFile(state).trim() === 'THAWED', Date.now() + FREEZE_TIMEOUT_MS))) {
      throw new NsboxError('E_RUNTIME', `cgroup ${this.parent}/${name} did not thaw within ${FREEZE_TIMEOUT_MS} ms`, { details: { name, path: state } });
    }
  }

  /**
   * Thaws the box and every cgroup below it: a child frozen on its own (self_freezing 1)
   * stays frozen when only its parent thaws, and frozen tasks never act on SIGKILL.
   */
  thawSubtree(name: string): void {
    if (!this.hasController('freezer')) return;
    for (const dir of subtreeDeepestFirst(this.freezerDir(name)).reverse()) {
      const state = readCgroupFileIfExists(join(dir, 'freezer.state'));
      if (state !== undefined && state.trim() !== 'THAWED') writeCgroupFile(join(dir, 'freezer.state'), 'THAWED');
    }
  }

  async kill(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    if (!this.exists(name)) return;
    const what = `cgroup ${this.parent}/${name}`;
    assertNotSelf(this.pids(name), what);
    // As runc does: freeze so no one forks while the signals go out, then thaw so they land.
    if (this.hasController('freezer') && isDirectory(this.freezerDir(name)) && this.pids(name).length > 0) {
      const state = join(this.freezerDir(name), 'freezer.state');
      writeCgroupFile(state, 'FROZEN');
      await pollUntil(() => readCgroupFile(state).trim() === 'FROZEN', Math.min(deadline, Date.now() + KILL_FREEZE_WAIT_MS));
      signalAll(() => this.pids(name));
    }
    this.thawSubtree(name);
    await killUntilEmpty(() => this.pids(name), deadline, what);
  }

  /** rmdir the box in every hierarchy, deepest cgroup first. */
  async removeDirs(name: string, deadline: number): Promise<void> {
    for (const hierarchy of this.hierarchies) await removeSubtree(this.boxDir(hierarchy, name), deadline);
  }

  removeParent(): void {
    for (const hierarchy of this.hierarchies) removeEmptyLevels(hierarchy.mount, this.levels);
  }

  async remove(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await this.kill(name, { timeoutMs: Math.max(0, deadline - Date.now()) });
    await this.removeDirs(name, deadline);
  }

  private controllerPath(name: string, controller: string, file: string): string {
    this.requireBox(name);
    assertControllerFile(controller, file);
    // Only the controller's own hierarchy: a read is on every sample's path (tracking).
    const hierarchy = this.hierarchies.find((candidate) => candidate.controllers.includes(controller));
    const dir = hierarchy === undefined ? undefined : this.boxDir(hierarchy, name);
    if (dir === undefined) {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `cgroup controller '${controller}' is not available here (v1 hierarchies: ${Object.keys(this.layout.v1).join(', ') || 'none'})`,
        {
          details: { controller, v1: Object.keys(this.layout.v1) },
        },
      );
    }
    return existingControllerFile(dir, controller, file);
  }

  read(name: string, controller: string, file: string): string {
    return readCgroupFile(this.controllerPath(name, controller, file));
  }

  write(name: string, controller: string, file: string, value: string): void {
    writeCgroupFile(this.controllerPath(name, controller, file), value);
  }
}

/**
 * A new v1 cpuset starts with empty cpus and mems, and no task can join it until both are
 * set (ENOSPC). Copy the parent's, but keep values someone already set on an existing cgroup.
 */
function inheritCpuset(parentDir: string, childDir: string): void {
  for (const file of ['cpuset.mems', 'cpuset.cpus']) {
    if (readCgroupFile(join(childDir, file)).trim() !== '') continue;
    writeCgroupFile(join(childDir, file), readCgroupFile(join(parentDir, file)).trim());
  }
}
