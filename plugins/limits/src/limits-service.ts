/**
 * The limits of boxes, start to end: checks, the OCI spec's part, the cgroup and disk before
 * start, live changes, what `nsbox limits` and `nsbox info` show. The hooks and the
 * commands both go through here; a daemon gets it as the service 'limits' publishes.
 */

import { execFileSync } from 'node:child_process';
import { type Box, inject, injectable, NsboxError, type OciRlimit, type OciSpec } from '@nsbox/core';
import { contributeLaunch, runtimeFacts } from '@nsbox/runtime-api';
import { CgroupLimits, type CgroupUsage, type EffectiveLimits } from './cgroup-limits.js';
import type { LimitsConfig } from './config-schema.js';
import { DiskLimits } from './disk/disk-limits.js';
import { which } from './disk/system.js';
import { HostFacts } from './host-facts.js';
import type { LimitsHostSettings } from './host-settings.js';
import { LimitEvents } from './limit-events.js';
import { adminCapProblems, hostProblems, liveProblems } from './limits-checks.js';
import { type LimitProblem, throwProblems } from './problems.js';
import { boxRlimits, mergeSpecRlimits, type RlimitName, type RlimitPair, rlimitNames } from './rlimits.js';
import { LimitsTokens } from './tokens.js';

type LimitsBox = Pick<Box, 'id' | 'name' | 'config' | 'runtime' | 'state'>;

/** What `nsbox limits` and `nsbox info` show for a box. */
export interface LimitsReport {
  configured: LimitsConfig;
  /** Read back from the kernel (running boxes). */
  effective?: EffectiveLimits & { rlimits?: Partial<Record<RlimitName, RlimitPair>> };
  usage?: CgroupUsage;
  disk?: { backend: string; limit: number; size: number; used: number; available: number; inodes: number | null; inodesUsed: number | null };
  /** Events found by this look (also in the box's history). */
  newEvents: string[];
}

const CGROUP_FIELDS = ['cpus', 'cpuWeight', 'cpuset', 'cpusetMems', 'memory', 'memoryHigh', 'swap', 'pids', 'io'] as const;

export function sectionOf(box: Pick<Box, 'config'>): LimitsConfig | undefined {
  return box.config['limits'] as LimitsConfig | undefined;
}

function hasCgroupLimits(config: LimitsConfig | undefined): boolean {
  return config !== undefined && CGROUP_FIELDS.some((field) => config[field] !== undefined);
}

function isLive(box: Pick<Box, 'state'>): boolean {
  return box.state === 'running' || box.state === 'paused';
}

@injectable()
export class LimitsService {
  /** The section before an update in progress, for its rollback (this process only). */
  private readonly beforeUpdate = new Map<string, LimitsConfig | undefined>();

  constructor(
    @inject(CgroupLimits) readonly cgroups: CgroupLimits,
    @inject(DiskLimits) readonly disk: DiskLimits,
    @inject(LimitEvents) readonly events: LimitEvents,
    @inject(HostFacts) private readonly facts: HostFacts,
    @inject(LimitsTokens.HostSettings) readonly settings: LimitsHostSettings,
  ) {}

  /** Whether a box needs its cgroup limited: its own section, or the host's default pids limit. */
  private limitsCgroup(config: LimitsConfig | undefined): boolean {
    return this.cgroups.available && (hasCgroupLimits(config) || this.settings.defaultPids !== null);
  }

  /** Whether limits has a part in a box: its section, a disk from before, or the host's default pids limit. */
  involved(box: LimitsBox): boolean {
    const config = sectionOf(box);
    return config !== undefined || this.disk.involved(box, config) || this.limitsCgroup(config);
  }

  /** Everything that can be known about a section without a box: throws with every problem. */
  checkHost(box: LimitsBox, config: LimitsConfig | undefined): void {
    if (!config) return;
    const problems: LimitProblem[] = adminCapProblems(config, this.settings);
    // A field above the admin's cap needs no word on what this host could do with it.
    const forbidden = new Set(problems.map((problem) => problem.field));
    if (this.cgroups.available) problems.push(...hostProblems(config, this.facts, this.cgroups).filter((problem) => !forbidden.has(problem.field)));
    const disk = this.disk.unsupported(box, config);
    if (disk) problems.push({ field: 'limits.disk', kind: 'unsupported', message: `cannot be enforced: ${disk}` });
    throwProblems(problems);
  }

  /**
   * A change to a box's section, checked as a whole before anything is touched: the host,
   * what a running box already uses, and what its disk can do in its state.
   */
  checkChange(box: LimitsBox, next: LimitsConfig | undefined): void {
    this.checkHost(box, next);
    const problems: LimitProblem[] = [];
    const live = isLive(box);
    if (live && next && this.cgroups.available) {
      const init = runtimeFacts(box).init?.pid;
      problems.push(...liveProblems(box.name, next, this.cgroups.usage(box), init === undefined ? undefined : this.facts.processLimits(init), this.facts));
    }
    if (this.disk.involved(box, next)) {
      for (const problem of this.disk.check(box, next, live)) problems.push({ field: 'limits.disk', ...problem });
    }
    throwProblems(problems);
  }

  /** The rlimits a box's init gets: its own, and the admin's caps (rtprio, nice...) on the rest; `inSpec` is what the spec keeps. */
  private rlimitsFor(config: LimitsConfig | undefined, inSpec: readonly OciRlimit[]): Partial<Record<RlimitName, RlimitPair>> {
    return boxRlimits(config?.rlimits, this.settings.maxRlimits, this.facts.rlimitCeilings(), inSpec);
  }

  /** The spec hook: rlimits for init, and the root where the disk limit lives. */
  editSpec(box: LimitsBox, config: LimitsConfig | undefined, spec: OciSpec): void {
    const existing = spec.process.rlimits ?? [];
    const rlimits = this.rlimitsFor(config, existing);
    if (Object.keys(rlimits).length > 0) spec.process.rlimits = mergeSpecRlimits(existing, rlimits);
    const root = this.disk.rootPath(box, config);
    if (root) spec.root.path = root;
    // The box's own filesystem: quotactl in the box is served there (the runtime's notify config).
    if (root && this.disk.ownImage(box, config)) contributeLaunch(spec, { diskImage: root });
  }

  /** Before start: the disk brought up, counters from zero (the runtime makes the cgroup next). */
  async prepare(box: LimitsBox, config: LimitsConfig | undefined): Promise<void> {
    this.disk.prepare(box, config);
    try {
      this.events.reset(box);
    } catch (error) {
      this.disk.release(box);
      throw error;
    }
  }

  /** The box's cgroup exists (the runtime made it) and nothing runs in it: the section's resources are declared. */
  configure(box: LimitsBox, config: LimitsConfig | undefined): void {
    if (this.limitsCgroup(config)) this.cgroups.declare(box, config ?? {}, this.devices(config), this.settings.defaultPids);
  }

  /** Undoes prepare (a later step of the start failed, or reconcile after a crash); the runtime removes the cgroup. */
  undoPrepare(box: LimitsBox): void {
    this.disk.release(box);
  }

  /** A running box gets its new section: checked whole, then applied; a failure puts the old one back. */
  async update(box: LimitsBox, previous: LimitsConfig | undefined, next: LimitsConfig | undefined, spec: OciSpec): Promise<void> {
    this.checkChange(box, next);
    this.beforeUpdate.set(box.id, previous);
    try {
      this.applyLive(box, next, previous, spec);
    } catch (error) {
      try {
        this.applyLive(box, previous, next, spec);
      } catch {
        // The first error says what went wrong; the box keeps what could be put back.
      }
      throw error;
    }
    this.events.poll(box);
  }

  /** Puts back the section an update replaced (rollback of a failed update). */
  async undoUpdate(box: LimitsBox, spec: OciSpec): Promise<void> {
    const previous = this.beforeUpdate.has(box.id) ? this.beforeUpdate.get(box.id) : sectionOf(box);
    this.beforeUpdate.delete(box.id);
    if (isLive(box)) this.applyLive(box, previous, sectionOf(box), spec);
  }

  private applyLive(box: LimitsBox, config: LimitsConfig | undefined, replaced: LimitsConfig | undefined, spec: OciSpec): void {
    // Only what changed is written; knobs another plugin owns keep their values.
    if (this.limitsCgroup(config)) this.cgroups.declare(box, config ?? {}, this.devices(config), this.settings.defaultPids);
    else this.cgroups.withdraw(box);
    // Names no longer limited leave the spec (a capped one comes back at its cap); running
    // processes keep theirs until restart, except what is set again here.
    const dropped: string[] = Object.keys(replaced?.rlimits ?? {}).map((name) => rlimitNames[name as RlimitName].kernel);
    const kept = (spec.process.rlimits ?? []).filter((limit) => !dropped.includes(limit.type));
    const rlimits = this.rlimitsFor(config, kept);
    this.applyRlimitsLive(box, rlimits);
    spec.process.rlimits = mergeSpecRlimits(kept, rlimits);
    this.disk.resizeLive(box, config);
  }

  /** prlimit on every process of the box (init passes its limits to what it starts later). */
  private applyRlimitsLive(box: LimitsBox, rlimits: Partial<Record<RlimitName, RlimitPair>>): void {
    const entries = Object.entries(rlimits) as [RlimitName, RlimitPair][];
    if (entries.length === 0 || !this.cgroups.available) return;
    const prlimit = which('prlimit');
    if (!prlimit) throw new NsboxError('E_UNSUPPORTED', 'prlimit is not installed (Debian package util-linux): rlimits cannot change on a running box');
    const args = entries.map(([name, pair]) => `--${name}=${pair.soft}:${pair.hard}`);
    for (const pid of this.cgroups.boxPids(box)) {
      try {
        execFileSync(prlimit, ['--pid', String(pid), ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      } catch (error) {
        const stderr = String((error as { stderr?: string }).stderr ?? '');
        // A process that exited meanwhile has no limits to change.
        if (/No such process/i.test(stderr)) continue;
        throw new NsboxError('E_RUNTIME', `limits.rlimits: prlimit on process ${pid} of box '${box.name}' failed: ${stderr.trim()}`, { cause: error });
      }
    }
  }

  /** io devices of a section as 'major:minor' (checkHost made sure they exist). */
  private devices(config: LimitsConfig | undefined): Map<string, string> {
    const map = new Map<string, string>();
    for (const entry of config?.io ?? []) {
      const device = this.facts.blockDevice(entry.device);
      if (device) map.set(entry.device, device.id);
    }
    return map;
  }

  /** The box stopped: last look at its counters, disk taken down. */
  stopped(box: LimitsBox): void {
    if (!this.involved(box)) return;
    this.events.poll(box);
    this.disk.release(box);
    this.events.reset(box);
  }

  destroy(box: LimitsBox): void {
    this.disk.destroy(box);
    this.events.reset(box);
  }

  /** The section `nsbox info` shows for a box (its box-info contribution). */
  describe(box: LimitsBox): LimitsReport | undefined {
    if (!this.involved(box)) return undefined;
    return this.report(box);
  }

  /** Configured and effective limits, usage, and any new events found on the way. */
  report(box: LimitsBox): LimitsReport {
    const newEvents = isLive(box) ? this.events.poll(box) : [];
    const result: LimitsReport = { configured: sectionOf(box) ?? {}, newEvents };
    if (isLive(box) && this.cgroups.available) {
      const effective = this.cgroups.effective(box);
      const init = runtimeFacts(box).init?.pid;
      const limits = init === undefined ? undefined : this.facts.processLimits(init);
      const names = Object.keys(result.configured.rlimits ?? {}) as RlimitName[];
      if (effective) {
        result.effective = effective;
        if (limits && names.length > 0) result.effective.rlimits = Object.fromEntries(names.map((name) => [name, limits[name]]));
      }
      const usage = this.cgroups.usage(box);
      if (usage) result.usage = usage;
    }
    try {
      const disk = this.disk.usage(box);
      if (disk) result.disk = disk;
    } catch {
      // A disk that cannot be read now (being resized) is left out of the report.
    }
    return result;
  }
}
