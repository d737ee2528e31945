/**
 * Fixtures for lifecycle tests of the core through a real store: plugins that record what
 * their hooks do, and an in-memory box driver (the seam where packages/runtime plugs in).
 */

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Box,
  type BoxDriver,
  type CheckpointOptions,
  type DriverStatus,
  definePlugin,
  type HookContext,
  type HookName,
  type OciSpec,
  type OperationContext,
  type RestoreOptions,
  type StartMoments,
  z,
} from '@nsbox/core';

export type Journal = string[];

export interface RecordingOptions {
  requires?: Record<string, string>;
  /** Hook that throws when it runs. */
  failOn?: HookName;
  /** Hook that kills this whole process when it runs, before it does anything. */
  crashOn?: HookName;
  /** Hook that kills this whole process once it has done its work, before it returns (a crash inside a step). */
  crashAfter?: HookName;
  /** Directory where `prepare` leaves a marker file that `rollback` removes. */
  markerDir?: string;
}

export function recordingPlugin(name: string, journal: Journal, options: RecordingOptions = {}) {
  const act = (hook: HookName) => (context: HookContext<unknown>) => {
    if (options.crashOn === hook) process.kill(process.pid, 'SIGKILL');
    if (options.failOn === hook) throw new Error(`${name} refuses ${hook}`);
    journal.push(`${name}:${hook}`);
    if (hook === 'prepare' && options.markerDir) writeFileSync(join(options.markerDir, `${name}-${context.box.name}`), 'prepared');
    if (options.crashAfter === hook) process.kill(process.pid, 'SIGKILL');
    if (hook === 'spec') context.spec.annotations = { ...context.spec.annotations, [`${name}.seen`]: 'yes' };
  };
  class RecordingHooks {
    validate = act('validate');
    spec = act('spec');
    prepare = act('prepare');
    started = act('started');
    update = act('update');
    stopping = act('stopping');
    stopped = act('stopped');
    destroy = act('destroy');
    rollback(context: HookContext<unknown>, hook: HookName) {
      journal.push(`${name}:rollback:${hook}`);
      if (hook === 'prepare' && options.markerDir) {
        const marker = join(options.markerDir, `${name}-${context.box.name}`);
        if (existsSync(marker)) rmSync(marker);
      }
    }
  }
  return definePlugin({
    name,
    version: '1.0.0',
    core: '^1.0.0',
    requires: options.requires ?? {},
    config: z.strictObject({ level: z.number().int().min(0).max(10).default(1) }),
    hooks: RecordingHooks,
  });
}

/** A box driver that keeps boxes in memory: enough to drive the core's state machine. */
export class MemoryDriver implements BoxDriver {
  readonly running = new Set<string>();
  readonly created = new Set<string>();

  async create(box: Box) {
    this.created.add(box.id);
    return { created: true };
  }
  baseSpec(box: Box): OciSpec {
    return {
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: box.config.process?.args ?? ['/sbin/init'], cwd: '/' },
      root: { path: box.config.rootfs ?? '/' },
      mounts: [],
      linux: { namespaces: [{ type: 'pid' }] },
    };
  }
  /** Per box: whether its last start was asked to hold the init for the wire moment. */
  readonly held = new Map<string, boolean>();
  /** Runs the core's moments as the Linux driver does: configure, then wire, then the box runs. */
  async start(box: Box, _spec: OciSpec, _context: OperationContext, moments: StartMoments) {
    this.held.set(box.id, moments.wiring);
    await moments.configure();
    await moments.wire({ pid: 4242 });
    this.running.add(box.id);
    return { pid: 4242 };
  }
  readonly checkpoints = new Map<string, CheckpointOptions>();
  async checkpoint(box: Box, options: CheckpointOptions) {
    this.checkpoints.set(box.id, options);
    if (!options.leaveRunning && !options.preDump) this.running.delete(box.id);
    return { imageDir: options.imageDir };
  }
  async restore(box: Box, _spec: OciSpec, options: RestoreOptions, _context: OperationContext, moments: StartMoments) {
    if (this.checkpoints.get(box.id)?.imageDir !== options.imageDir) throw new Error(`no checkpoint in ${options.imageDir}`);
    await moments.configure();
    await moments.wire({ pid: 4343 });
    this.running.add(box.id);
    return { pid: 4343, restored: true };
  }
  async stop(box: Box): Promise<DriverStatus> {
    this.running.delete(box.id);
    return { state: 'stopped', exitCode: 0 };
  }
  async kill(box: Box) {
    this.running.delete(box.id);
  }
  async pause() {}
  async resume() {}
  /** How the next init that ended is reported (a test's seam for exits, reboots, halts). */
  nextExit: DriverStatus | undefined;
  async status(box: Box): Promise<DriverStatus> {
    if (this.running.has(box.id)) return { state: 'running' };
    return this.nextExit ?? { state: 'stopped' };
  }
  async destroy(box: Box) {
    this.created.delete(box.id);
  }
  async cleanupStart(box: Box) {
    this.running.delete(box.id);
  }
}
