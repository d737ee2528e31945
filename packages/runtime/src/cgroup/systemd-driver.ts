/**
 * cgroup2 under systemd, as podman, LXC and nspawn do it on a systemd host: each box is a
 * transient scope (StartTransientUnit, Delegate=yes) in a slice named after the parent, and
 * nsbox writes the box's knobs in the subtree systemd delegated. systemd knows every box as
 * a unit of its own (`systemctl status nsbox-<id>.scope`), never finds a cgroup it did not
 * make under a unit of its own, and leaves the delegated subtree alone.
 *
 *   nsbox.slice/                    the parent ('nsbox/web' → nsbox.slice/nsbox-web.slice/)
 *     nsbox-<box>.scope/            the box's unit, delegated to nsbox
 *       anchor/                     the process that holds the scope while the box is stopped
 *       box/                        the box: its processes, its limits, freeze and kill
 *
 * The knobs that weigh a box against other boxes (cpu.weight, io.weight, memory.low and
 * memory.min: scope-properties.ts) act between siblings, so they are the scope's: set as its
 * unit properties (systemd owns a scope's own files, and writes them again from the
 * properties whenever it realizes the scope), and read there.
 *
 * A scope needs a process when it starts and goes away when it empties, while a box's
 * cgroup must exist before its launcher joins and outlive a stop until remove. A sleeping
 * anchor process holds it for that whole span, in a leaf of its own: a cgroup2 node with
 * processes cannot pass controllers down, and the box's pids and kills never see it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, DEFAULT_TIMEOUT_MS, type KillOptions } from './cgroup-driver.js';
import {
  childCgroups,
  ensureDirectory,
  fileExists,
  isDirectory,
  parsePids,
  pollUntil,
  readCgroupFileIfExists,
  removeSubtree,
  writeCgroupFile,
} from './cgroup-fs.js';
import { assertBoxName } from './cgroup-names.js';
import { ioCostEnabled } from './io-cost.js';
import type { CgroupLayout } from './layout.js';
import { weightToBfq } from './resource-plan.js';
import { ioWeightForBfq, isScopeFile, SCOPE_FILES, systemdBfqWeight, unitPropertyOf } from './scope-properties.js';
import { type BusCall, busctlCall, setUnitProperties, startScope, stopUnit } from './systemd-bus.js';
import { type BoxUnits, boxOfScope, boxUnits, scopeUnit } from './systemd-units.js';
import { delegateOfferedControllers, V2Driver } from './v2-driver.js';

const ANCHOR = 'anchor';
const BOX = 'box';
// systemd moves the anchor into its new scope within a job: milliseconds, seconds when busy.
const SCOPE_START_TIMEOUT_MS = 10_000;

/** Blocks the thread for ms (create() is synchronous, as in every driver). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The cgroup2 path of a process ('/nsbox.slice/nsbox-x.scope'); undefined once it is gone. */
function cgroupOf(pid: number): string | undefined {
  try {
    return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export class SystemdDriver extends V2Driver {
  private readonly units: BoxUnits;

  /** `units`: how boxes map to units; by default the parent's slice and its scopes (boxUnits). */
  constructor(
    layout: CgroupLayout,
    parent: string,
    private readonly call: BusCall = busctlCall,
    units?: BoxUnits,
  ) {
    super(layout, parent);
    this.units = units ?? boxUnits(parent);
  }

  /** The unit of box `name`, e.g. nsbox-web.scope. */
  scope(name: string): string {
    return scopeUnit(this.units, name);
  }

  sliceDir(): string {
    return join(this.mount, ...this.units.slices);
  }

  scopeDir(name: string): string {
    return join(this.sliceDir(), this.scope(name));
  }

  override boxDir(name: string): string {
    return join(this.scopeDir(name), BOX);
  }

  protected override describe(name: string): BoxCgroup {
    const scopeDir = this.scopeDir(name);
    return { ...super.describe(name), fileDirs: Object.fromEntries([...SCOPE_FILES].map((file) => [file, scopeDir])) };
  }

  protected override fileDir(name: string, file: string): string {
    return isScopeFile(file) ? this.scopeDir(name) : super.fileDir(name, file);
  }

  /**
   * A scope file through its unit property, then the file itself: systemd writes the files from
   * the properties when it next realizes the scope, which may be after it answered, so the
   * file gets now what systemd will write. io.bfq.weight has no property: the file only.
   */
  override write(name: string, controller: string, file: string, value: string): void {
    if (!isScopeFile(file)) {
      super.write(name, controller, file, value);
      return;
    }
    if (file === 'io.weight') {
      this.writeIoWeight(name, Number(unitPropertyOf(file, value)?.value));
      return;
    }
    const path = this.controllerPath(name, controller, file);
    const property = unitPropertyOf(file, value);
    if (property) setUnitProperties(this.call, this.scope(name), [property]);
    writeCgroupFile(path, value);
    // A protection reaches the box's pages in its leaf only through the leaf's own (without
    // cgroup2's memory_recursiveprot): the leaf gets it too. Weights need no copy there, the
    // anchor beside the box using nothing.
    if (file === 'memory.low' || file === 'memory.min') writeCgroupFile(join(this.boxDir(name), file), value);
  }

  /**
   * A box's IO weight is one property, IOWeight, from which systemd writes the scope's io.weight
   * and, on a scale of its own (systemdBfqWeight: 300 → 118), its io.bfq.weight, every time it
   * realizes the scope (after SetUnitProperties, at each daemon-reload). Only the property
   * holds, so it carries the weight the kernel reads: where BFQ weighs IO (its file is there,
   * io.cost is on nowhere), the IOWeight systemd maps to nsbox's BFQ weight, exactly (300 →
   * 2300; io.weight then shows 2300, which nothing reads); where io.cost is on, the weight itself,
   * and BFQ's file, written by the plan, holds until systemd next realizes the scope.
   */
  private writeIoWeight(name: string, weight: number): void {
    const bfqFile = join(this.scopeDir(name), 'io.bfq.weight');
    const bfq = fileExists(bfqFile) && !ioCostEnabled(this.mount);
    const ioWeight = bfq ? ioWeightForBfq(weightToBfq(weight)) : weight;
    setUnitProperties(this.call, this.scope(name), [{ name: 'IOWeight', type: 't', value: String(ioWeight) }]);
    writeCgroupFile(this.controllerPath(name, 'io', 'io.weight'), `default ${ioWeight}`);
    if (bfq) writeCgroupFile(bfqFile, `default ${systemdBfqWeight(ioWeight)}`);
  }

  override create(name: string): BoxCgroup {
    assertBoxName(name);
    const scopeDir = this.scopeDir(name);
    if (!isDirectory(scopeDir)) this.startAnchoredScope(name);
    // What sits in the scope's own cgroup (the anchor systemd just moved there) goes to its leaf.
    const anchorDir = join(scopeDir, ANCHOR);
    ensureDirectory(anchorDir);
    for (const pid of parsePids(readCgroupFileIfExists(join(scopeDir, 'cgroup.procs')) ?? '')) {
      writeCgroupFile(join(anchorDir, 'cgroup.procs'), String(pid));
    }
    delegateOfferedControllers(scopeDir);
    ensureDirectory(this.boxDir(name));
    return this.get(name) as BoxCgroup;
  }

  private startAnchoredScope(name: string): void {
    const unit = this.scope(name);
    // Its own session (detached): it outlives the CLI or the daemon that made it, like the box.
    const anchor = spawn('sleep', ['infinity'], { detached: true, stdio: 'ignore', cwd: '/' });
    // A spawn that fails leaves no pid, which is reported below; its error event must not crash the process.
    anchor.on('error', () => undefined);
    anchor.unref();
    const pid = anchor.pid;
    if (pid === undefined) throw new NsboxError('E_RUNTIME', `cannot start the process that holds ${unit}: spawn sleep gave no pid`, { details: { unit } });
    try {
      startScope(this.call, { unit, slice: this.units.slices.at(-1) ?? '-.slice', pid, description: `nsbox box ${name} (cgroup parent ${this.parent})` });
      const wanted = `/${[...this.units.slices, unit].join('/')}`;
      const deadline = Date.now() + SCOPE_START_TIMEOUT_MS;
      while (cgroupOf(pid) !== wanted) {
        if (Date.now() > deadline) {
          throw new NsboxError('E_RUNTIME', `systemd did not move the scope's process into ${wanted} within ${SCOPE_START_TIMEOUT_MS} ms`, {
            details: { unit, pid, cgroup: cgroupOf(pid) },
          });
        }
        sleepSync(5);
      }
    } catch (error) {
      anchor.kill('SIGKILL');
      throw error;
    }
  }

  override list(): string[] {
    return childCgroups(this.sliceDir())
      .map((unit) => boxOfScope(this.units, unit))
      .filter((name): name is string => name !== undefined)
      .sort();
  }

  /** The box's subtree first (its processes killed, its cgroups removed), then its scope, anchor and all. */
  override async remove(name: string, options: KillOptions = {}): Promise<void> {
    assertBoxName(name);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await super.remove(name, { timeoutMs: Math.max(0, deadline - Date.now()) });
    const scopeDir = this.scopeDir(name);
    if (!isDirectory(scopeDir)) return;
    stopUnit(this.call, this.scope(name));
    if (await pollUntil(() => !isDirectory(scopeDir), deadline)) return;
    // systemd no longer knows the unit (a scope left from before a reboot of systemd's state): remove it as cgroupfs.
    writeCgroupFile(join(scopeDir, 'cgroup.kill'), '1');
    await removeSubtree(scopeDir, deadline);
  }

  /** Stops the parent's slices that hold no box, deepest first; systemd removes their cgroups. */
  override removeParent(): void {
    for (let depth = this.units.slices.length; depth > 0; depth--) {
      const dir = join(this.mount, ...this.units.slices.slice(0, depth));
      if (!isDirectory(dir)) continue;
      if (childCgroups(dir).length > 0) return;
      stopUnit(this.call, this.units.slices[depth - 1]!);
      const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
      while (isDirectory(dir) && Date.now() < deadline) sleepSync(5);
    }
  }
}
