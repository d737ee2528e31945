/**
 * The Linux box driver: rootfs from a template, a cgroup per box, the launch program run by
 * the native launcher under the box's shim. Boxes outlive the process that started them.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  type Box,
  type BoxDriver,
  type CheckpointOptions,
  type DriverStatus,
  NsboxError,
  type OciSpec,
  type OperationContext,
  type Provision,
  type ProvisionHost,
  provide,
  type RestoreOptions,
  type StartMoments,
} from '@nsbox/core';
import { native, removeTree } from '@nsbox/native';
import {
  type BoxFilesService,
  type CgroupManager,
  type CheckpointEngine,
  contributeLaunch,
  contributeNotify,
  launchContributions,
  type NotifyRule,
  type NotifyService,
  type NotifyUpdate,
  notifyRules,
  procViews,
  type RestoreLauncher,
  type RootfsLayers,
  rootfsArchiveInput,
  runtimeRefs,
  type UtsNames,
  type UtsService,
} from '@nsbox/runtime-api';
import { buildBaseSpec } from './base-spec.js';
import { type BoxExit, BoxFiles } from './box-files.js';
import { type BoxCgroup, BoxCgroupManager, type CgroupDriver, createCgroupDriver } from './cgroup/index.js';
import { CheckpointEngineSlot } from './checkpoint-engines.js';
import { releaseInit } from './held-init.js';
import { makeOwnLayer, mountOverlay, RootfsLayersService, unmountOverlay } from './layers/index.js';
import { holdNetns, type NetnsHolder } from './netns-holder.js';
import { NOTIFY_CONFIG_FILE, NOTIFY_OPTIONS_FILE, NOTIFY_SOCKET_FILE, type NotifyConfigOptions, notifyConfig, quotaDiskOf } from './notify-config.js';
import { identify, isSameProcess, isZombie, type ProcessIdentity, waitUntil } from './process-identity.js';
import { restoreRoot } from './restore-root.js';
import { launchShim } from './shim-launch.js';
import { type CompileContext, compileCreateProgram } from './spec-compiler.js';
import { materializeTemplate, type TemplateProgress } from './templates/index.js';
import { VIEWS_CONFIG_FILE, viewsConfig } from './views-config.js';

export interface LinuxDriverOptions {
  stateDir: string;
  /** Parent of every box cgroup; tests use one of their own. */
  cgroupParent?: string;
  cgroups?: CgroupDriver;
  onProgress?: (progress: TemplateProgress) => void;
}

/** What the driver records on a box (Box.runtime). */
export interface LinuxRuntimeFacts {
  rootfs?: string;
  /** The running box's / on the host (runtime-api RuntimeFacts.root). */
  root?: string;
  /** The rootfs was made by nsbox (from a template) and is removed with the box. */
  ownsRootfs?: boolean;
  image?: { cmd?: string[]; entrypoint?: string[]; env?: string[]; workingDir?: string };
  init?: ProcessIdentity;
  shim?: ProcessIdentity;
  cgroup?: string;
  startedAt?: number;
}

function facts(box: Box): LinuxRuntimeFacts {
  return box.runtime as LinuxRuntimeFacts;
}

export class LinuxBoxDriver implements BoxDriver, BoxFilesService, UtsService, NotifyService {
  readonly cgroups: CgroupDriver;
  /** The one writer of boxes' resource files (runtimeRefs.cgroupManager). */
  readonly resources: BoxCgroupManager;
  /** Template layers and layered boxes' roots (runtimeRefs.rootfsLayers). */
  readonly layers: RootfsLayersService;
  /** The engine behind checkpoint and restore, installed by a plugin (runtimeRefs.checkpointEngines). */
  readonly checkpointEngines = new CheckpointEngineSlot();

  constructor(private readonly options: LinuxDriverOptions) {
    this.cgroups = options.cgroups ?? createCgroupDriver({ parent: options.cgroupParent ?? 'nsbox' });
    this.resources = new BoxCgroupManager(this.cgroups);
    this.layers = new RootfsLayersService({
      layersDir: join(options.stateDir, 'layers'),
      cacheDir: join(options.stateDir, 'templates'),
      boxesDir: join(options.stateDir, 'boxes'),
    });
  }

  /** The host's state directory (plugins keep their files under it, e.g. limits' image pools). */
  get stateDir(): string {
    return this.options.stateDir;
  }

  /** The runtime-api refs plugins declare in their deps (checked against their types here). */
  provisions(host?: ProvisionHost): Provision[] {
    if (host) this.resources.useStore(host.pluginState);
    return [
      provide(runtimeRefs.cgroups, this.cgroups),
      provide<CgroupManager>(runtimeRefs.cgroupManager, this.resources),
      provide(runtimeRefs.boxFiles, this as BoxFilesService),
      provide(runtimeRefs.uts, this as UtsService),
      provide(runtimeRefs.notify, this as NotifyService),
      provide<RootfsLayers>(runtimeRefs.rootfsLayers, this.layers),
      provide(runtimeRefs.checkpointEngines, this.checkpointEngines),
    ];
  }

  /**
   * Makes the box's cgroup for a start: the runtime alone creates and removes box cgroups.
   * Resource declarations of an earlier run are forgotten; owners declare anew at `configure`.
   */
  protected makeCgroup(box: Pick<Box, 'id'>): BoxCgroup {
    const existed = this.cgroups.exists(box.id);
    const cgroup = this.cgroups.create(box.id);
    this.resources.began(box, { existed });
    return cgroup;
  }

  /** Kills what is left in the box's cgroup and removes it, with its resource declarations. */
  protected async removeCgroup(box: Pick<Box, 'id'>): Promise<void> {
    await this.cgroups.remove(box.id);
    this.resources.forget(box);
  }

  files(box: Pick<Box, 'id'>): BoxFiles {
    return new BoxFiles(this.boxDir(box));
  }

  /** The directory of every box's directory (the resident agent watches it for exits). */
  get boxesDir(): string {
    return join(this.options.stateDir, 'boxes');
  }

  boxDir(box: Pick<Box, 'id'>): string {
    return join(this.boxesDir, box.id);
  }

  /** What a join program (exec, enter) of a running box needs: its cgroup, its shim's notify socket, the filter cache. */
  joinContext(box: Pick<Box, 'id'>): CompileContext {
    const seccompCache = this.seccompCache();
    return {
      procsFiles: this.cgroups.get(box.id)?.procsFiles ?? [],
      notifySocket: join(this.boxDir(box), NOTIFY_SOCKET_FILE),
      ...(seccompCache ? { seccompCache } : {}),
    };
  }

  private seccompCacheDir?: string;

  /**
   * Where the launcher keeps compiled seccomp filters (root's only: the launcher uses an entry
   * only from a directory of root's that no one else may write). Undefined when it cannot be
   * made: the launcher then compiles every filter, as it would without a cache.
   */
  private seccompCache(): string | undefined {
    if (!this.seccompCacheDir) {
      const dir = join(this.options.stateDir, 'seccomp-cache');
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch {
        return undefined;
      }
      this.seccompCacheDir = dir;
    }
    return this.seccompCacheDir;
  }

  /** The operation's context follows and cancels the template work (nsboxd's operations). */
  async create(box: Box, context?: OperationContext): Promise<Record<string, unknown>> {
    const onProgress = context ? (progress: TemplateProgress) => context.progress(progress) : this.options.onProgress;
    const files = this.files(box);
    const { rootfs, template } = box.config;
    // A box from another host brings its root as a tarball: it becomes the box's own copy.
    const arrived = rootfsArchiveInput.of(context);
    if (arrived) return this.createFrom(arrived.archive, files, context);
    if (rootfs) {
      if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) {
        // The box's config names it: the same error nsboxd gives for it (E_INVALID_CONFIG).
        throw new NsboxError('E_INVALID_CONFIG', `rootfs ${rootfs} does not exist or is not a directory`, { details: { field: 'rootfs', step: 'create' } });
      }
      mkdirSync(files.dir, { recursive: true, mode: 0o700 });
      return { rootfs, ownsRootfs: false } satisfies LinuxRuntimeFacts;
    }
    if (!template) throw new NsboxError('E_INVALID_CONFIG', 'a box needs a rootfs directory or a template', { details: { field: 'template' } });
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    // A plugin chose layers at provision: no copy, only the box's own empty upper layer.
    const layered = this.layers.record(box);
    if (layered) {
      try {
        makeOwnLayer(files.rootfs, layered.lowers[0]?.dir ?? '');
      } catch (error) {
        await removeTree(files.dir).catch(() => undefined);
        throw error;
      }
      const image = this.layers.imageConfig(layered);
      return { rootfs: files.rootfs, ownsRootfs: true, ...(image ? { image } : {}) } satisfies LinuxRuntimeFacts;
    }
    try {
      const made = await materializeTemplate(template, files.rootfs, {
        cacheDir: join(this.options.stateDir, 'templates'),
        ...(onProgress ? { onProgress } : {}),
        ...(context ? { signal: context.signal } : {}),
      });
      return { rootfs: made.rootfs, ownsRootfs: true, ...(made.config ? { image: made.config } : {}) } satisfies LinuxRuntimeFacts;
    } catch (error) {
      await removeTree(files.dir).catch(() => undefined); // the create's own error is the one to report
      throw error;
    }
  }

  private async createFrom(archive: string, files: BoxFiles, context?: OperationContext): Promise<Record<string, unknown>> {
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    try {
      const made = await materializeTemplate(archive, files.rootfs, {
        cacheDir: join(this.options.stateDir, 'templates'),
        ...(context ? { signal: context.signal, onProgress: (progress: TemplateProgress) => context.progress(progress) } : {}),
      });
      return { rootfs: made.rootfs, ownsRootfs: true } satisfies LinuxRuntimeFacts;
    } catch (error) {
      await removeTree(files.dir).catch(() => undefined);
      throw error;
    }
  }

  baseSpec(box: Box): OciSpec {
    const runtime = facts(box);
    return buildBaseSpec(box, runtime.rootfs ?? box.config.rootfs ?? '', runtime.image);
  }

  async start(box: Box, spec: OciSpec, _context?: OperationContext, moments?: StartMoments): Promise<Record<string, unknown>> {
    const files = this.files(box);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    // The hold socket too: a start killed at its wire moment leaves it bound, and the next bind would fail.
    for (const stale of [files.exitFile, join(files.dir, 'init.pid'), files.shimPidFile, join(files.dir, 'start.sock')]) rmSync(stale, { force: true });
    writeFileSync(files.specFile, JSON.stringify(spec, null, 2));
    // A layered root is mounted on the spec's root path: the box's own directory, or where a
    // plugin moved it (limits' disk image), so that the upper layer lives on the box's disk.
    // Under the box's layer lock: a dedupe never empties an upper this mounts (E_BUSY while one runs).
    const launchSpec = this.layers.whileLocked(box, () => {
      const layered = this.layers.record(box);
      return layered ? this.mountLayers(box, spec, [...(layered.merged ? [layered.merged] : []), ...layered.lowers.map((lower) => lower.dir)]) : spec;
    });
    let cgroup: BoxCgroup;
    try {
      cgroup = this.makeCgroup(box);
    } catch (error) {
      this.unmountLayers(box);
      throw error;
    }
    try {
      // The cgroup exists and nothing runs in it: plugins declare their resources now.
      await moments?.configure();
      // /proc views: the shim keeps the box's FUSE connection and nsbox-proc-view serving it.
      const views = procViews(spec);
      // The init holds once the box is built, before it execs (the launcher's `hold`), when a
      // plugin wires it or the shim mounts views into it (the box must never run on the
      // kernel's files, and a short-lived init would be gone before they are mounted);
      // otherwise it execs at once and the wire moment only records the facts.
      const holdSocket = moments?.wiring || views ? join(files.dir, 'start.sock') : undefined;
      const viewsFile = join(files.dir, VIEWS_CONFIG_FILE);
      if (views) writeFileSync(viewsFile, viewsConfig(views, cgroup), { mode: 0o600 });
      else rmSync(viewsFile, { force: true });
      // Notified syscalls: the shim takes the listeners and keeps nsbox-notify serving them.
      const seccompCache = this.seccompCache();
      const notify = this.writeNotifyConfig(files, launchSpec, cgroup, { loadavgView: views?.files.includes('loadavg') ?? false });
      const program = [
        ...compileCreateProgram(launchSpec, {
          procsFiles: cgroup.procsFiles,
          ...(cgroup.unifiedDir ? { unifiedDir: cgroup.unifiedDir } : {}),
          notifySocket: join(files.dir, NOTIFY_SOCKET_FILE),
          ...(seccompCache ? { seccompCache } : {}),
        }),
        ...(holdSocket ? [['hold', holdSocket]] : []),
      ];
      const ready = await launchShim({
        boxDir: files.dir,
        program,
        terminal: spec.process.terminal ?? false,
        ...(notify ? { notifyConfig: notify } : {}),
        ...(views ? { viewsConfig: viewsFile } : {}),
      });
      const init = identify(ready.pid);
      const shim = identify(ready.shimPid);
      const facts = { init, shim, cgroup: box.id, root: spec.root.path, startedAt: Date.now() } satisfies LinuxRuntimeFacts;
      // The wire moment: the box's namespaces exist, its init has not run (veth in, BPF, listener).
      await moments?.wire(facts);
      if (holdSocket) {
        await releaseInit(holdSocket);
        rmSync(holdSocket, { force: true });
      }
      // A very short-lived init may be gone already; its exit.json tells the rest.
      return facts;
    } catch (error) {
      await this.removeCgroup(box).catch(() => undefined);
      this.unmountLayers(box);
      throw error;
    }
  }

  /**
   * Mounts a layered box's overlay on its spec's root path. A box whose root the launcher
   * would idmap gets idmapped lower layers instead (an overlay cannot be idmapped): the
   * launcher is then given the root as a plain tree. Returns the spec to compile.
   */
  private mountLayers(box: Box, spec: OciSpec, lowers: string[]): OciSpec {
    const lowersDir = join(this.boxDir(box), 'lowers');
    if (!launchContributions(spec).rootfsIdmap) {
      mountOverlay(box.id, spec.root.path, lowers, { lowersDir });
      return spec;
    }
    const idmap = { uidMappings: spec.linux.uidMappings ?? [], gidMappings: spec.linux.gidMappings ?? [] };
    mountOverlay(box.id, spec.root.path, lowers, { lowersDir, idmap });
    const launchSpec: OciSpec = { ...spec, annotations: { ...spec.annotations } };
    contributeLaunch(launchSpec, { rootfsIdmap: false });
    return launchSpec;
  }

  /** Takes down a layered box's overlay (nothing for a box without layers). */
  private unmountLayers(box: Pick<Box, 'id'>): void {
    if (this.layers.record(box)) unmountOverlay(box.id, join(this.boxDir(box), 'lowers'));
  }

  /** Notified syscalls: the shim takes the listeners and keeps nsbox-notify serving them. The config file, if the box has any. */
  private writeNotifyConfig(files: BoxFiles, spec: OciSpec, cgroup: BoxCgroup, options: { loadavgView?: boolean } = {}): string | undefined {
    const notify = notifyRules(spec);
    const notifyFile = join(files.dir, NOTIFY_CONFIG_FILE);
    if (notify.length === 0) {
      for (const file of [notifyFile, join(files.dir, NOTIFY_OPTIONS_FILE)]) rmSync(file, { force: true });
      return undefined;
    }
    const used: NotifyConfigOptions = { ...options, ...quotaDiskOf(spec) };
    writeFileSync(notifyFile, notifyConfig(notify, cgroup, used), { mode: 0o600 });
    writeFileSync(join(files.dir, NOTIFY_OPTIONS_FILE), JSON.stringify(used), { mode: 0o600 });
    return notifyFile;
  }

  /**
   * Saves the box's processes through the installed engine (the migration plugin's CRIU).
   * Without --leave-running the dump ends them: the shim then records the init's end as for
   * any exit, which the core turns into a stop.
   */
  async checkpoint(box: Box, options: CheckpointOptions, context: OperationContext): Promise<Record<string, unknown>> {
    const engine = this.checkpointEngines.require(box, 'checkpoint');
    // A restore would need the box's overlay mounted as the launcher mounts it, under criu.
    if (this.layers.record(box)) {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `cannot checkpoint box '${box.name}': its root is a shared template's overlay (sharing), which restore does not mount yet`,
        {
          details: { box: box.name },
        },
      );
    }
    const runtime = facts(box);
    const spec = (box.runtime as { spec?: OciSpec }).spec;
    if (!runtime.init || !isSameProcess(runtime.init) || !spec) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no running init to checkpoint`, { details: { box: box.name } });
    }
    engine.check?.(box, spec);
    mkdirSync(options.imageDir, { recursive: true, mode: 0o700 });
    const leaveRunning = options.leaveRunning ?? false;
    const saved = await engine.checkpoint(
      {
        box,
        spec,
        initPid: runtime.init.pid,
        rootfs: runtime.rootfs ?? box.config.rootfs ?? '',
        boxDir: this.boxDir(box),
        imageDir: options.imageDir,
        leaveRunning,
        extra: options.extra ?? {},
      },
      context,
    );
    // The tree is gone once the dump returns; the shim writes exit.json as it reaps the init.
    // An engine that still owes the tree's memory (a post-copy dump) keeps it frozen until then.
    if (!leaveRunning && saved.pagesOwed !== true) await waitUntil(() => this.files(box).exit() !== undefined || !isSameProcess(runtime.shim), 5_000);
    return { engine: engine.name, imageDir: options.imageDir, leaveRunning, at: Date.now(), ...saved };
  }

  /**
   * Brings saved processes back as a start does — a fresh cgroup, `configure`, a shim — but
   * the shim runs the engine's restore instead of the launcher: the restored init is then
   * the shim's to supervise (reaped, its exit recorded) as a started one is.
   */
  async restore(box: Box, spec: OciSpec, options: RestoreOptions, context: OperationContext, moments?: StartMoments): Promise<Record<string, unknown>> {
    const engine = this.checkpointEngines.require(box, 'restore');
    engine.check?.(box, spec);
    const files = this.files(box);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    for (const stale of [files.exitFile, join(files.dir, 'init.pid'), files.shimPidFile]) rmSync(stale, { force: true });
    writeFileSync(files.specFile, JSON.stringify(spec, null, 2));
    const cgroup = this.makeCgroup(box);
    let holder: NetnsHolder | undefined;
    try {
      await moments?.configure();
      // The /proc views: the new shim's server binds them again over the engine's stand-ins.
      const views = procViews(spec);
      const viewsFile = join(files.dir, VIEWS_CONFIG_FILE);
      if (views) writeFileSync(viewsFile, viewsConfig(views, cgroup), { mode: 0o600 });
      // Processes exec'd into the restored box send their listeners to the new shim.
      const notify = this.writeNotifyConfig(files, spec, cgroup, { loadavgView: views?.files.includes('loadavg') ?? false });
      // Images that left the box's network to the plugins: a namespace they wire first, as at a start.
      if (engine.restoreNeeds?.(options.imageDir).netns) {
        holder = await holdNetns();
        await moments?.wire({ init: identify(holder.pid), cgroup: box.id });
      }
      const launcher = await this.restoreLauncher(engine, box, spec, options, context, holder?.path);
      const ready = await launchShim({
        boxDir: files.dir,
        program: [],
        launcher: launcher.path,
        // A box with a terminal gets a new pty, which the engine hands the restored tree as its old one.
        terminal: spec.process.terminal ?? false,
        timeoutMs: 120_000,
        ...(notify ? { notifyConfig: notify } : {}),
        ...(views ? { viewsConfig: viewsFile } : {}),
      });
      const restored = {
        init: identify(ready.pid),
        shim: identify(ready.shimPid),
        cgroup: box.id,
        root: spec.root.path,
        startedAt: Date.now(),
        restoredFrom: { engine: engine.name, imageDir: options.imageDir, ...launcher.facts },
      };
      if (!holder) await moments?.wire(restored);
      return restored;
    } catch (error) {
      await this.cleanupStart(box).catch(() => undefined);
      throw error;
    } finally {
      holder?.stop();
    }
  }

  /** The engine's restore launcher for the box, its root mounted as the launcher mounts it. */
  protected restoreLauncher(
    engine: CheckpointEngine,
    box: Box,
    spec: OciSpec,
    options: RestoreOptions,
    context: OperationContext,
    netns: string | undefined,
  ): Promise<RestoreLauncher> {
    const boxDir = this.boxDir(box);
    return engine.restoreLauncher(
      { box, spec, root: restoreRoot(spec, boxDir), boxDir, imageDir: options.imageDir, extra: options.extra ?? {}, ...(netns ? { netns } : {}) },
      context,
    );
  }

  async status(box: Box): Promise<DriverStatus> {
    const runtime = facts(box);
    const exit = this.files(box).exit();
    if (exit) {
      reapShim(runtime.shim);
      return exitToStatus(exit);
    }
    if (isSameProcess(runtime.init)) {
      return { state: box.state === 'paused' ? 'paused' : 'running' };
    }
    // The init is gone. Its shim records how it ended as soon as it reaps it: while the shim
    // lives, wait for that record rather than settle the box without it (a halt or reboot
    // request, a signal, would be lost, and a restart policy would act on a plain exit).
    if (await waitUntil(() => this.files(box).exit() !== undefined || !isSameProcess(runtime.shim), 2_000, 5)) {
      const recorded = this.files(box).exit();
      if (recorded) {
        reapShim(runtime.shim);
        return exitToStatus(recorded);
      }
    }
    // The shim is gone too and never wrote exit.json: it was killed (or the host rebooted).
    return { state: 'stopped' };
  }

  async stop(box: Box, options: { timeoutMs: number }): Promise<DriverStatus> {
    const runtime = facts(box);
    const files = this.files(box);
    if (box.state === 'paused' || box.state === 'stopping') await this.cgroups.thaw(box.id).catch(() => undefined);
    let killedAfterMs: number | undefined;
    if (isSameProcess(runtime.init) && options.timeoutMs > 0) {
      // The init's own halt signal when a plugin gave one (systemd: SIGRTMIN+3), else SIGTERM.
      signal(runtime.init, stopSignalOf(box) ?? 'SIGTERM');
      await waitUntil(() => !isSameProcess(runtime.init), options.timeoutMs);
      if (isSameProcess(runtime.init)) killedAfterMs = options.timeoutMs;
    }
    if (this.cgroups.get(box.id)) await this.cgroups.kill(box.id);
    if (isSameProcess(runtime.init)) signal(runtime.init, 'SIGKILL');
    // The shim writes exit.json once init is reaped; give it a moment, then stop waiting.
    await waitUntil(() => files.exit() !== undefined || !isSameProcess(runtime.shim), 5_000);
    if (isSameProcess(runtime.shim) && !files.exit()) signal(runtime.shim, 'SIGKILL');
    await this.removeCgroup(box);
    this.unmountLayers(box);
    await waitUntil(() => reapShim(runtime.shim), 1_000);
    const status: DriverStatus = files.exit() ? exitToStatus(files.exit() as BoxExit) : { state: 'stopped', signal: 9 };
    return killedAfterMs === undefined ? status : { ...status, killedAfterMs };
  }

  setNames(box: Box, names: UtsNames): void {
    const init = facts(box).init;
    const notRunning = () => new NsboxError('E_INVALID_STATE', `box '${box.name}' has no running init`, { details: { box: box.name } });
    if (!init) throw notRunning();
    let pidfd: number;
    try {
      pidfd = native().pidfdOpen(init.pid);
    } catch {
      throw notRunning();
    }
    try {
      // The pidfd is that init once its start time matched: a recycled pid cannot slip in.
      if (!isSameProcess(init)) throw notRunning();
      native().setUtsNames(pidfd, names.hostname, names.domainname);
    } finally {
      native().close(pidfd);
    }
  }

  updateRules(box: Box, owner: string, rules: NotifyRule[]): NotifyUpdate {
    const { init, shim, spec } = box.runtime as LinuxRuntimeFacts & { spec?: OciSpec };
    if (!isSameProcess(init) || !isSameProcess(shim) || !spec) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no running init`, { details: { box: box.name } });
    }
    const next: Pick<OciSpec, 'annotations'> = { annotations: { ...spec.annotations } };
    contributeNotify(next, owner, rules);
    const answered = (list: readonly NotifyRule[]) => [...new Set(list.map((rule) => rule.syscall))].sort().join(', ') || 'none';
    const [before, after] = [answered(notifyRules(spec)), answered(notifyRules(next))];
    if (before !== after) {
      return {
        live: false,
        reason: `its seccomp filter, fixed at its start, has the host answer ${before}; these rules need ${after}: the next start applies them`,
      };
    }
    const cgroup = this.cgroups.get(box.id);
    if (!cgroup) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no cgroup`, { details: { box: box.name } });
    const files = this.files(box);
    const config = notifyConfig(notifyRules(next), cgroup, JSON.parse(readFileSync(join(files.dir, NOTIFY_OPTIONS_FILE), 'utf8')) as NotifyConfigOptions);
    // Whole or not at all for a helper starting meanwhile: a new file renamed over the old.
    const staged = join(files.dir, `${NOTIFY_CONFIG_FILE}.new`);
    writeFileSync(staged, config, { mode: 0o600 });
    renameSync(staged, join(files.dir, NOTIFY_CONFIG_FILE));
    // The shim starts its helper again, which reads the config anew.
    signal(shim, 'SIGUSR1');
    return { live: true };
  }

  async kill(box: Box, signalNumber: number): Promise<void> {
    const init = facts(box).init;
    if (!isSameProcess(init)) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no running init`, { details: { box: box.name } });
    signal(init, signalNumber);
  }

  async pause(box: Box): Promise<void> {
    await this.cgroups.freeze(box.id);
  }

  async resume(box: Box): Promise<void> {
    await this.cgroups.thaw(box.id);
  }

  async destroy(box: Box): Promise<void> {
    await this.cleanupStart(box);
    // Declarations a lost cgroup left (a host reboot) go with the box.
    this.resources.forget(box);
    const files = this.files(box);
    // A rootfs given with --rootfs belongs to the admin; only what nsbox made goes, and
    // nothing mounted below the box's directory (a mount left behind fails the destroy, named).
    await removeTree(files.dir);
  }

  async cleanupStart(box: Box): Promise<void> {
    const runtime = facts(box);
    if (this.cgroups.exists(box.id)) await this.removeCgroup(box);
    if (isSameProcess(runtime.shim)) signal(runtime.shim, 'SIGKILL');
    await waitUntil(() => reapShim(runtime.shim), 1_000);
    // After the shim: nothing of the box holds its root any more.
    this.unmountLayers(box);
  }

  /**
   * Cgroups of boxes that rest in a state without processes were left by a crashed start or
   * stop. A box in a transitional state is left alone: another live process is starting or
   * stopping it right now (a crashed one was already rolled back by the core's reconcile).
   * A running box whose resources a crash left half-written gets its whole plan written.
   */
  async reconcile(boxes: Box[]): Promise<void> {
    const known = new Map(boxes.map((box) => [box.id, box]));
    for (const name of this.cgroups.list()) {
      const box = known.get(name);
      if (box && (box.state === 'created' || box.state === 'stopped' || box.state === 'defined')) await this.removeCgroup(box);
      else if (box && (box.state === 'running' || box.state === 'paused')) this.reconcileResources(box);
    }
  }

  private reconcileResources(box: Box): void {
    try {
      this.resources.reconcile(box);
    } catch {
      // The plan stays pending: the next apply on the box writes it whole again.
    }
  }

  /** Init's exit as recorded by the shim, for `run` and `wait`. */
  exit(box: Box): BoxExit | undefined {
    return this.files(box).exit();
  }

  logs(box: Box): string {
    const file = this.files(box).consoleLog;
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
}

/**
 * A shim started by this process is its child until it exits: collect it, or it stays a
 * zombie. True once it is gone, or ended as another process's child (a box started by a
 * CLI and settled by the agent: that zombie is not ours to collect, and holds nothing).
 */
function reapShim(identity: ProcessIdentity | undefined): boolean {
  if (!identity) return true;
  return native().reap(identity.pid) || !isSameProcess(identity) || isZombie(identity.pid);
}

/**
 * Signals the process `identity` names through a pidfd opened before its start time is
 * checked: once the check passes, the pidfd is that process, even if the pid is recycled
 * before the signal lands.
 */
function signal(identity: ProcessIdentity | undefined, sig: NodeJS.Signals | number): void {
  if (!identity) return;
  let pidfd: number;
  try {
    pidfd = native().pidfdOpen(identity.pid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw error;
  }
  try {
    if (isSameProcess(identity)) native().pidfdSendSignal(pidfd, typeof sig === 'number' ? sig : constants.signals[sig]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  } finally {
    native().close(pidfd);
  }
}

/** The stop signal the box's spec carries (launch contributions), if any. */
function stopSignalOf(box: Box): number | undefined {
  const spec = box.runtime.spec as OciSpec | undefined;
  return spec ? launchContributions(spec).stopSignal : undefined;
}

function exitToStatus(exit: BoxExit): DriverStatus {
  return {
    state: 'stopped',
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(exit.signal !== undefined ? { signal: exit.signal } : {}),
  };
}
