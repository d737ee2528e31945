/**
 * The runtime's cgroup manager (youki's `CgroupManager::apply` / `stats`): owners declare the
 * resources they want for a box, the manager merges every declaration (resource-merge.ts),
 * plans the files for this host's flavours (resource-plan.ts) and writes only the files whose
 * value changed since its last plan. Declarations and the last plan live in the store's plugin
 * state, so each process of the host merges with what the others declared.
 *
 * Applies on one box are serialized by the core's operation journal (an update or a start is
 * one operation at a time per box); a process killed halfway leaves its plan marked pending,
 * and the next apply or `reconcile` writes every file again.
 */

import { dirname, join } from 'node:path';
import { isNsboxError, NsboxError, type PluginStateStore } from '@nsbox/core';
import type {
  ApplyOptions,
  ApplyResult,
  BoxCgroup,
  BoxResources,
  CgroupDriver,
  CgroupManager,
  DesiredResources,
  KnobWrite,
  ResourceBox,
  ResourceDeclaration,
  ResourceEvents,
  ResourceProblem,
  ResourceStats,
} from '@nsbox/runtime-api';
import { childCgroups, existingControllerFile, fileExists, isDirectory, readCgroupFile, readCgroupFileIfExists, writeCgroupFile } from './cgroup-fs.js';
import { ResourceHost } from './resource-host.js';
import { knobsOf, resourcesOf } from './resource-knobs.js';
import { type MergedKnob, mergeDeclarations } from './resource-merge.js';
import { diffPlans, type PlanContext, type PlannedWrite, planWrites } from './resource-plan.js';
import { ResourceReader } from './resource-readback.js';
import { type AppliedPlan, MemoryStateStore, ResourceState } from './resource-state.js';

const OWNER = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function assertOwner(owner: string): void {
  if (!OWNER.test(owner)) {
    throw new NsboxError('E_INVALID_ARGUMENT', `invalid resource owner '${owner}': a plugin name (lowercase letters, digits, . _ -)`, { details: { owner } });
  }
}

/** Entries of both plans, the later one's value where both have a file (what the kernel may hold after a crash). */
function union(first: PlannedWrite[], second: PlannedWrite[]): PlannedWrite[] {
  const byId = new Map(first.map((planned) => [planned.id, planned]));
  for (const planned of second) byId.set(planned.id, planned);
  return [...byId.values()];
}

export class BoxCgroupManager implements CgroupManager {
  readonly host: ResourceHost;
  private readonly state: ResourceState;

  constructor(
    private readonly driver: CgroupDriver,
    store: PluginStateStore = new MemoryStateStore(),
  ) {
    this.host = new ResourceHost(driver.layout);
    this.state = new ResourceState(store);
  }

  /** The host's plugin state, once it is open (the driver, and so this manager, is made first). */
  useStore(store: PluginStateStore): void {
    this.state.useStore(store);
  }

  apply(box: ResourceBox, owner: string, resources: BoxResources, options: ApplyOptions = {}): ApplyResult {
    assertOwner(owner);
    // Bad values are refused before anything is stored.
    knobsOf(resources, owner);
    if (options.defaults) knobsOf(options.defaults, owner);
    const declaration: ResourceDeclaration = { resources: structuredClone(resources) };
    if (options.defaults) declaration.defaults = structuredClone(options.defaults);
    return this.change(box, owner, declaration);
  }

  withdraw(box: ResourceBox, owner: string): ApplyResult {
    assertOwner(owner);
    return this.change(box, owner, undefined);
  }

  desired(box: ResourceBox): DesiredResources {
    const declarations = this.state.declarations(box);
    const merged = mergeDeclarations(declarations);
    return {
      resources: resourcesOf(new Map([...merged].map(([key, knob]) => [key, knob.value]))),
      owners: Object.fromEntries([...merged].map(([key, knob]) => [key, knob.ownership])),
      declarations,
    };
  }

  effective(box: ResourceBox): BoxResources | undefined {
    const cgroup = this.driver.get(box.id);
    if (!cgroup) return undefined;
    let merged: Map<string, MergedKnob>;
    try {
      merged = mergeDeclarations(this.state.declarations(box));
    } catch {
      merged = new Map();
    }
    const unified = [...merged.keys()].filter((key) => key.startsWith('unified.')).map((key) => key.slice('unified.'.length));
    return this.reader(box).effective(cgroup, unified, merged.has('memory.reservation'));
  }

  stats(box: ResourceBox): ResourceStats | undefined {
    const cgroup = this.driver.get(box.id);
    return cgroup ? this.reader(box, cgroup).stats() : undefined;
  }

  events(box: ResourceBox): ResourceEvents | undefined {
    const cgroup = this.driver.get(box.id);
    return cgroup ? this.reader(box, cgroup).events() : undefined;
  }

  usage(box: ResourceBox, known?: BoxCgroup): { cgroup: BoxCgroup; stats: ResourceStats; events: ResourceEvents } | undefined {
    // The memory directory stands for the rest: the one OOM kills are counted in.
    const knownDir = known && (known.v1Dirs['memory'] ?? known.unifiedDir);
    const cgroup = known && knownDir !== undefined && isDirectory(knownDir) ? known : this.driver.get(box.id);
    if (!cgroup) return undefined;
    const reader = this.reader(box, cgroup);
    return { cgroup, stats: reader.stats(), events: reader.events() };
  }

  check(resources: BoxResources): ResourceProblem[] {
    return this.host.check(resources);
  }

  /**
   * The runtime made the box's cgroup (start): declarations of an earlier run are forgotten.
   * A cgroup that was there already (left by a crash) may hold anything: the first apply
   * writes every file.
   */
  began(box: ResourceBox, options: { existed: boolean }): void {
    this.state.clear(box);
    if (options.existed) this.state.setApplied(box, { plan: [], pending: [] });
  }

  /** The runtime removed the box's cgroup: nothing of it is kept. */
  forget(box: ResourceBox): void {
    this.state.clear(box);
  }

  /** A plan a crash left halfway is written whole (the runtime's reconcile, for a running box). */
  reconcile(box: ResourceBox): ApplyResult | undefined {
    const cgroup = this.driver.get(box.id);
    if (!cgroup || this.state.applied(box).pending === undefined) return undefined;
    const merged = mergeDeclarations(this.state.declarations(box));
    return this.write(box, cgroup, merged, planWrites(merged, this.context(cgroup)));
  }

  private reader(box: ResourceBox, cgroup?: BoxCgroup): ResourceReader {
    return new ResourceReader(this.driver, this.host, box.id, cgroup);
  }

  private change(box: ResourceBox, owner: string, declaration: ResourceDeclaration | undefined): ApplyResult {
    const cgroup = this.driver.get(box.id);
    if (!cgroup) {
      if (declaration === undefined) {
        this.state.setDeclaration(box, owner, undefined);
        return { written: [] };
      }
      throw new NsboxError('E_INVALID_STATE', `box ${box.id} has no cgroup: resources are declared from the configure moment of its start on, while it runs`, {
        details: { box: box.id, owner },
      });
    }
    const previous = this.state.declaration(box, owner);
    const declarations = this.state.declarations(box);
    if (declaration === undefined) delete declarations[owner];
    else declarations[owner] = declaration;
    // Merged and planned before anything is stored: a conflict or a knob this host cannot do changes nothing.
    const merged = mergeDeclarations(declarations);
    const plan = planWrites(merged, this.context(cgroup));
    this.state.setDeclaration(box, owner, declaration);
    try {
      return this.write(box, cgroup, merged, plan);
    } catch (error) {
      this.state.setDeclaration(box, owner, previous);
      try {
        const restored = mergeDeclarations(this.state.declarations(box));
        this.write(box, cgroup, restored, planWrites(restored, this.context(cgroup)));
      } catch {
        // The first error says what went wrong; the plan stays pending for reconcile.
      }
      throw error;
    }
  }

  /** Writes what changed since the last plan, marking the new one pending until every file is written. */
  private write(box: ResourceBox, cgroup: BoxCgroup, merged: Map<string, MergedKnob>, plan: PlannedWrite[]): ApplyResult {
    const applied: AppliedPlan = this.state.applied(box);
    const known = applied.pending ? union(applied.plan, applied.pending) : applied.plan;
    const writes = diffPlans(applied.pending ? undefined : applied.plan, plan, known);
    if (writes.length > 0) this.state.setApplied(box, { plan: known, pending: plan });
    const written: KnobWrite[] = [];
    for (const planned of writes) {
      this.writeFile(box, cgroup, merged, planned);
      written.push({ controller: planned.controller || 'unified', file: planned.file, value: planned.value, knobs: planned.knobs });
    }
    this.state.setApplied(box, { plan });
    return { written };
  }

  private writeFile(box: ResourceBox, cgroup: BoxCgroup, merged: Map<string, MergedKnob>, planned: PlannedWrite): void {
    try {
      if (planned.controller === '') {
        if (cgroup.unifiedDir === undefined) throw new NsboxError('E_UNSUPPORTED', 'this host has no cgroup2 hierarchy for raw unified files');
        // A file the driver keeps outside the box's directory (systemd: a scope's weight) goes through the driver, which knows how.
        if (cgroup.fileDirs?.[planned.file] !== undefined) {
          this.driver.write(box.id, planned.file.split('.')[0] as string, planned.file, planned.value);
          return;
        }
        writeCgroupFile(existingControllerFile(cgroup.unifiedDir, planned.file.split('.')[0] as string, planned.file), planned.value);
        return;
      }
      if (planned.file === 'cpu.rt_runtime_us' && Number(planned.value) > 0) this.reserveRealtime(cgroup, Number(planned.value));
      this.driver.write(box.id, planned.controller, planned.file, planned.value);
    } catch (error) {
      throw this.explain(planned, merged, error);
    }
  }

  private explain(planned: PlannedWrite, merged: Map<string, MergedKnob>, error: unknown): NsboxError {
    const knob = planned.knobs[planned.knobs.length - 1] as string;
    const owners = [...new Set(planned.knobs.flatMap((key) => merged.get(key)?.ownership.owners ?? []))];
    const from = owners.length > 0 ? ` (from '${owners.join("', '")}')` : '';
    const cause = isNsboxError(error) ? error.message : String(error);
    const details = { field: knob, owners, file: planned.file, value: planned.value };
    if (isNsboxError(error) && error.code === 'E_UNSUPPORTED') {
      return new NsboxError('E_UNSUPPORTED', `resource ${knob}${from} cannot be enforced on this host: ${cause}`, { details, cause: error });
    }
    return new NsboxError('E_RUNTIME', `resource ${knob}${from}: the kernel refused ${planned.file} = '${planned.value}': ${cause}`, { details, cause: error });
  }

  /**
   * v1 realtime time is handed down: each level of our parent must hold at least what its
   * children hold, or the kernel refuses the box's share. Our levels (never the mount root,
   * which is the host's) are raised, top first, to what their children need with this box.
   */
  private reserveRealtime(cgroup: BoxCgroup, runtime: number): void {
    const boxDir = cgroup.v1Dirs['cpu'];
    const mount = this.driver.layout.v1['cpu'];
    if (boxDir === undefined || mount === undefined) return;
    const share = (dir: string) => {
      const own = Number(readCgroupFileIfExists(join(dir, 'cpu.rt_runtime_us')) ?? 0);
      return own > 0 ? own / Number(readCgroupFile(join(dir, 'cpu.rt_period_us'))) : 0;
    };
    const boxPeriod = Number(readCgroupFile(join(boxDir, 'cpu.rt_period_us')));
    const levels: string[] = [];
    for (let dir = dirname(boxDir); dir.startsWith(`${mount}/`); dir = dirname(dir)) levels.unshift(dir);
    const needs = new Map<string, number>();
    let child = boxDir;
    let need = runtime / boxPeriod;
    for (const level of [...levels].reverse()) {
      const others = childCgroups(level)
        .map((name) => join(level, name))
        .filter((dir) => dir !== child)
        .reduce((sum, dir) => sum + share(dir), 0);
      need += others;
      needs.set(level, need);
      child = level;
    }
    for (const level of levels) {
      const period = Number(readCgroupFile(join(level, 'cpu.rt_period_us')));
      // Shares are fractions of a period: round up, but not past a float's last bit.
      const wanted = Math.ceil((needs.get(level) as number) * period - 1e-6);
      if (Number(readCgroupFile(join(level, 'cpu.rt_runtime_us'))) < wanted) writeCgroupFile(join(level, 'cpu.rt_runtime_us'), String(wanted));
    }
  }

  private context(cgroup: BoxCgroup): PlanContext {
    return {
      flavor: (controller) => this.host.flavor(controller),
      mounted: () => this.host.mounted(),
      parentCpuset: (file) => {
        const dir = cgroup.v1Dirs['cpuset'];
        if (dir !== undefined) return readCgroupFile(join(dirname(dir), file)).trim();
        return this.host.flavor('cpuset') === 'v2' ? this.host.onlineCpuset(file) : '';
      },
      ioWeightFiles: () => {
        const flavor = this.host.flavor('io');
        const dir = flavor === 'v2' ? cgroup.unifiedDir : cgroup.v1Dirs['blkio'];
        const candidates = flavor === 'v2' ? ['io.weight', 'io.bfq.weight'] : ['blkio.weight', 'blkio.bfq.weight'];
        return dir === undefined ? [] : candidates.filter((file) => fileExists(join(dir, file)));
      },
    };
  }
}
