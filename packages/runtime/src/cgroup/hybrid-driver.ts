/**
 * Hybrid hosts mount the controllers as v1 hierarchies and cgroup2 beside them (often with
 * no controller at all, or just hugetlb). The box gets a directory in both: v1 for resources,
 * the unified one for what cgroup2's core does better whatever its controllers —
 * cgroup.kill (no fork race), cgroup.freeze, cgroup.events. crun refuses such hosts; we
 * compose the two drivers instead.
 */
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, type CgroupDriver, DEFAULT_TIMEOUT_MS, type KillOptions } from './cgroup-driver.js';
import { assertBoxName } from './cgroup-names.js';
import type { CgroupLayout } from './layout.js';
import { V1Driver } from './v1-driver.js';
import { CORE_FILES, V2Driver } from './v2-driver.js';

export class HybridDriver implements CgroupDriver {
  private readonly v1: V1Driver;
  private readonly unified: V2Driver;

  constructor(
    readonly layout: CgroupLayout,
    readonly parent: string,
  ) {
    this.v1 = new V1Driver(layout, parent);
    this.unified = new V2Driver(layout, parent);
  }

  create(name: string): BoxCgroup {
    return merge(this.v1.create(name), this.unified.create(name));
  }

  get(name: string): BoxCgroup | undefined {
    const v1 = this.v1.get(name);
    const unified = this.unified.get(name);
    return v1 !== undefined && unified !== undefined ? merge(v1, unified) : undefined;
  }

  exists(name: string): boolean {
    return this.v1.exists(name) || this.unified.exists(name);
  }

  list(): string[] {
    return [...new Set([...this.v1.list(), ...this.unified.list()])].sort();
  }

  /** A union: a process the launcher put in only some hierarchies still belongs to the box. */
  pids(name: string): number[] {
    return [...new Set([...this.v1.pids(name), ...this.unified.pids(name)])].sort((a, b) => a - b);
  }

  isPopulated(name: string): boolean {
    return this.unified.isPopulated(name) || this.v1.isPopulated(name);
  }

  private requireBox(name: string): void {
    assertBoxName(name);
    if (!this.unified.exists(name) && !this.v1.exists(name)) {
      throw new NsboxError('E_NOT_FOUND', `cgroup ${this.parent}/${name} does not exist`, { details: { name, parent: this.parent } });
    }
  }

  /** The cgroup2 freezer where the kernel has it (it needs no controller), else v1's. */
  async freeze(name: string): Promise<void> {
    this.requireBox(name);
    if (this.unified.exists(name) && this.unified.supportsFreeze(name)) await this.unified.freeze(name);
    else await this.v1.freeze(name);
  }

  /** Thaws whichever freezer holds the box, including a v1 freeze someone else set. */
  async thaw(name: string): Promise<void> {
    this.requireBox(name);
    const unifiedFreezer = this.unified.exists(name) && this.unified.supportsFreeze(name);
    if (unifiedFreezer) await this.unified.thaw(name);
    const v1State = this.v1.freezerState(name);
    if (!unifiedFreezer || (v1State !== undefined && v1State !== 'THAWED')) await this.v1.thaw(name);
  }

  async kill(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    // Tasks frozen by the v1 freezer ignore even cgroup.kill's SIGKILL until thawed.
    this.v1.thawSubtree(name);
    await this.unified.kill(name, { timeoutMs: remaining(deadline) });
    // Whoever is in a v1 directory but was never written to the unified one.
    await this.v1.kill(name, { timeoutMs: remaining(deadline) });
  }

  async remove(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await this.kill(name, { timeoutMs: remaining(deadline) });
    await this.v1.removeDirs(name, deadline);
    await this.unified.removeDirs(name, deadline);
  }

  removeParent(): void {
    this.v1.removeParent();
    this.unified.removeParent();
  }

  /** v1 holds the resource controllers; a controller only cgroup2 has (hugetlb here) goes there. */
  private backendFor(controller: string): CgroupDriver {
    if (this.v1.hasController(controller)) return this.v1;
    if (controller === CORE_FILES || this.layout.unifiedControllers.includes(controller)) return this.unified;
    throw new NsboxError(
      'E_UNSUPPORTED',
      `cgroup controller '${controller}' is not available on this host (v1: ${Object.keys(this.layout.v1).join(', ') || 'none'}; cgroup2: ${this.layout.unifiedControllers.join(', ') || 'none'})`,
      { details: { controller, v1: Object.keys(this.layout.v1), unified: this.layout.unifiedControllers } },
    );
  }

  read(name: string, controller: string, file: string): string {
    return this.backendFor(controller).read(name, controller, file);
  }

  write(name: string, controller: string, file: string, value: string): void {
    this.backendFor(controller).write(name, controller, file, value);
  }
}

function merge(v1: BoxCgroup, unified: BoxCgroup): BoxCgroup {
  const merged: BoxCgroup = { name: v1.name, procsFiles: [...v1.procsFiles, ...unified.procsFiles], v1Dirs: v1.v1Dirs };
  if (unified.unifiedDir !== undefined) merged.unifiedDir = unified.unifiedDir;
  return merged;
}

function remaining(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}
