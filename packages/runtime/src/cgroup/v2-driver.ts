/**
 * cgroup2 (Documentation/admin-guide/cgroup-v2.rst): one directory per box on the unified
 * mount; cgroup.freeze and cgroup.events for freezing, cgroup.kill for killing, and the
 * controllers the parent delegates through cgroup.subtree_control.
 */
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, type CgroupDriver, DEFAULT_TIMEOUT_MS, FREEZE_TIMEOUT_MS, type KillOptions } from './cgroup-driver.js';
import {
  childCgroups,
  ensureDirectory,
  existingControllerFile,
  fileExists,
  isDirectory,
  parseKeyedFile,
  pollUntil,
  readCgroupFile,
  readCgroupFileIfExists,
  removeEmptyLevels,
  removeSubtree,
  retryWhileParentVanishes,
  subtreePids,
  writeCgroupFile,
} from './cgroup-fs.js';
import { assertBoxName, assertControllerFile, parentSegments } from './cgroup-names.js';
import { assertNotSelf, killUntilEmpty, signalAll, stillPopulated } from './kill-loop.js';
import type { CgroupLayout } from './layout.js';

/** The pseudo-controller naming cgroup2's core files (cgroup.max.descendants, cgroup.stat...). */
export const CORE_FILES = 'cgroup';

// A freeze that does not settle in this time during a fallback kill is given up.
const KILL_FREEZE_WAIT_MS = 1000;

export class V2Driver implements CgroupDriver {
  readonly mount: string;
  private readonly levels: string[];

  constructor(
    readonly layout: CgroupLayout,
    readonly parent: string,
  ) {
    if (layout.unified === undefined) throw new NsboxError('E_UNSUPPORTED', 'this host has no cgroup2 mount', { details: { kind: layout.kind } });
    this.mount = layout.unified;
    this.levels = parentSegments(parent);
  }

  boxDir(name: string): string {
    return join(this.mount, ...this.levels, name);
  }

  protected describe(name: string): BoxCgroup {
    const unifiedDir = this.boxDir(name);
    return { name, procsFiles: [join(unifiedDir, 'cgroup.procs')], unifiedDir, v1Dirs: {} };
  }

  create(name: string): BoxCgroup {
    assertBoxName(name);
    retryWhileParentVanishes(() => {
      let dir = this.mount;
      for (const level of this.levels) {
        dir = join(dir, level);
        ensureDirectory(dir);
        delegateOfferedControllers(dir);
      }
      ensureDirectory(join(dir, name));
    });
    return this.describe(name);
  }

  get(name: string): BoxCgroup | undefined {
    return this.exists(name) ? this.describe(name) : undefined;
  }

  exists(name: string): boolean {
    assertBoxName(name);
    return isDirectory(this.boxDir(name));
  }

  list(): string[] {
    // At the root every other child belongs to someone else: a root driver owns no list.
    if (this.levels.length === 0) return [];
    return childCgroups(join(this.mount, ...this.levels)).sort();
  }

  pids(name: string): number[] {
    assertBoxName(name);
    return [...new Set(subtreePids(this.boxDir(name)))].sort((a, b) => a - b);
  }

  private events(name: string): Map<string, string> | undefined {
    const text = readCgroupFileIfExists(join(this.boxDir(name), 'cgroup.events'));
    return text === undefined ? undefined : parseKeyedFile(text);
  }

  /** cgroup.events counts the whole subtree, so a nested cgroup's processes count too. */
  isPopulated(name: string): boolean {
    assertBoxName(name);
    return this.events(name)?.get('populated') === '1';
  }

  private requireBox(name: string): void {
    if (!this.exists(name)) throw new NsboxError('E_NOT_FOUND', `cgroup ${this.parent}/${name} does not exist`, { details: { name, parent: this.parent } });
  }

  /** cgroup.freeze arrived in Linux 5.2, cgroup.kill in 5.14. */
  supportsFreeze(name: string): boolean {
    return fileExists(join(this.boxDir(name), 'cgroup.freeze'));
  }

  supportsKill(name: string): boolean {
    return fileExists(join(this.boxDir(name), 'cgroup.kill'));
  }

  async freeze(name: string): Promise<void> {
    this.requireBox(name);
    if (!this.supportsFreeze(name))
      throw new NsboxError('E_UNSUPPORTED', 'cgroup.freeze is missing: the cgroup2 freezer needs Linux 5.2', { details: { name } });
    const freezeFile = join(this.boxDir(name), 'cgroup.freeze');
    writeCgroupFile(freezeFile, '1');
    // cgroup.freeze is the request; cgroup.events 'frozen 1' says every task has stopped.
    if (!(await pollUntil(() => this.events(name)?.get('frozen') === '1', Date.now() + FREEZE_TIMEOUT_MS))) {
      // Half-frozen is worse than either state: leave it running and say so.
      writeCgroupFile(freezeFile, '0');
      throw new NsboxError('E_RUNTIME', `cgroup ${this.parent}/${name} did not freeze within ${FREEZE_TIMEOUT_MS} ms`, { details: { name } });
    }
  }

  async thaw(name: string): Promise<void> {
    this.requireBox(name);
    if (!this.supportsFreeze(name))
      throw new NsboxError('E_UNSUPPORTED', 'cgroup.freeze is missing: the cgroup2 freezer needs Linux 5.2', { details: { name } });
    writeCgroupFile(join(this.boxDir(name), 'cgroup.freeze'), '0');
    if (!(await pollUntil(() => this.events(name)?.get('frozen') !== '1', Date.now() + FREEZE_TIMEOUT_MS))) {
      throw new NsboxError('E_RUNTIME', `cgroup ${this.parent}/${name} did not thaw within ${FREEZE_TIMEOUT_MS} ms`, { details: { name } });
    }
  }

  async kill(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    if (!this.exists(name)) return;
    const what = `cgroup ${this.parent}/${name}`;
    assertNotSelf(this.pids(name), what);
    if (this.supportsKill(name)) {
      // The kernel kills the whole subtree, frozen tasks included, with no fork race.
      writeCgroupFile(join(this.boxDir(name), 'cgroup.kill'), '1');
      if (!(await pollUntil(() => !this.isPopulated(name), deadline))) throw stillPopulated(what, this.pids(name));
    } else {
      await this.killByPidList(name, deadline, what);
    }
    // A box started again in this cgroup must not start frozen.
    if (this.supportsFreeze(name) && readCgroupFile(join(this.boxDir(name), 'cgroup.freeze')).trim() !== '0') {
      writeCgroupFile(join(this.boxDir(name), 'cgroup.freeze'), '0');
    }
  }

  /** Before cgroup.kill: freeze so no one forks, signal, thaw so the signals land, repeat. */
  private async killByPidList(name: string, deadline: number, what: string): Promise<void> {
    if (this.supportsFreeze(name) && this.isPopulated(name)) {
      writeCgroupFile(join(this.boxDir(name), 'cgroup.freeze'), '1');
      await pollUntil(() => this.events(name)?.get('frozen') === '1', Math.min(deadline, Date.now() + KILL_FREEZE_WAIT_MS));
      signalAll(() => this.pids(name));
      writeCgroupFile(join(this.boxDir(name), 'cgroup.freeze'), '0');
    }
    await killUntilEmpty(() => this.pids(name), deadline, what);
  }

  async removeDirs(name: string, deadline: number): Promise<void> {
    await removeSubtree(this.boxDir(name), deadline);
  }

  removeParent(): void {
    removeEmptyLevels(this.mount, this.levels);
  }

  async remove(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await this.kill(name, { timeoutMs: Math.max(0, deadline - Date.now()) });
    await this.removeDirs(name, deadline);
  }

  /** Controllers enabled for the box: what its parent's cgroup.subtree_control delegates. */
  boxControllers(name: string): string[] {
    return readCgroupFile(join(this.boxDir(name), 'cgroup.controllers'))
      .split(/\s+/)
      .filter(Boolean);
  }

  /** The directory that holds a controller file of the box: its own (other drivers keep some knobs above it). */
  protected fileDir(name: string, _file: string): string {
    return this.boxDir(name);
  }

  protected controllerPath(name: string, controller: string, file: string): string {
    this.requireBox(name);
    assertControllerFile(controller, file);
    const dir = this.fileDir(name, file);
    // Some files are the core's, present whether or not their controller is on (cpu.stat, *.pressure).
    if (controller === CORE_FILES || this.boxControllers(name).includes(controller) || fileExists(join(dir, file))) {
      return existingControllerFile(dir, controller, file);
    }
    if (!this.layout.unifiedControllers.includes(controller)) {
      throw new NsboxError('E_UNSUPPORTED', `cgroup controller '${controller}' is not available on this host's cgroup2 mount ${this.mount}`, {
        details: { controller, available: this.layout.unifiedControllers },
      });
    }
    throw new NsboxError(
      'E_UNSUPPORTED',
      `cgroup controller '${controller}' is on ${this.mount} but not delegated to '${this.parent}': enable it in ${this.mount}/cgroup.subtree_control`,
      { details: { controller, available: this.layout.unifiedControllers, delegated: this.boxControllers(name) } },
    );
  }

  read(name: string, controller: string, file: string): string {
    return readCgroupFile(this.controllerPath(name, controller, file));
  }

  write(name: string, controller: string, file: string, value: string): void {
    writeCgroupFile(this.controllerPath(name, controller, file), value);
  }
}

/**
 * Enables in dir's cgroup.subtree_control every controller dir is offered (its
 * cgroup.controllers), so the boxes below get them. Only our own levels are written: the
 * mount root belongs to the host, which decides what it delegates to us. One controller
 * per write, best effort: a controller the kernel refuses here (a realtime task elsewhere
 * blocks 'cpu', for one) must not cost the box the others, and write() later names it.
 */
export function delegateOfferedControllers(dir: string, write: (path: string, value: string) => void = writeCgroupFile): void {
  const offered = readCgroupFile(join(dir, 'cgroup.controllers')).split(/\s+/).filter(Boolean);
  const enabled = new Set(readCgroupFile(join(dir, 'cgroup.subtree_control')).split(/\s+/).filter(Boolean));
  for (const controller of offered) {
    if (enabled.has(controller)) continue;
    try {
      write(join(dir, 'cgroup.subtree_control'), `+${controller}`);
    } catch {
      // Reported where it matters: write() on the box says the controller is not delegated.
    }
  }
}
