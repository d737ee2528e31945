/**
 * The box driver of OCI boxes: the Linux driver, with the bundle's config.json as the spec
 * (so the core's start path, journal, plugin hooks and reconcile are the ones `nsbox` uses)
 * and one difference in how the box is launched: not under an nsbox shim, but by the
 * caller's process (the native front), so that the box's init is the caller's descendant
 * as a runc-driven engine expects, built completely and held by the launcher until `start`
 * (./launch-ops.ts).
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Box,
  type DriverStatus,
  defineOperationInput,
  NsboxError,
  type OciSpec,
  type OperationContext,
  type RestoreOptions,
  type StartMoments,
} from '@nsbox/core';
import {
  compileCreateProgram,
  encodeProgram,
  identify,
  isSameProcess,
  LinuxBoxDriver,
  type LinuxRuntimeFacts,
  launcherFailure,
  launcherPath,
  type ProcessIdentity,
  removeTreeSync,
} from '@nsbox/runtime';
import { OCI_OWNER, translateResources } from '../bundle/resources.js';
import type { CallerPort } from '../server/front-session.js';
import type { OciCgroupDriver } from './cgroup-paths.js';
import { ociLaunchOps } from './launch-ops.js';
import { launchSpec } from './launch-spec.js';
import { moveNetDevices, netDeviceMoves } from './net-devices.js';
import { OCI_VERSION } from './oci-state.js';
import { checkSysctls } from './sysctl.js';

/** What nsbox-runc records about an OCI box, beside the Linux driver's facts. */
export interface OciFacts {
  id: string;
  bundle: string;
  /** config.json as checked at create, paths resolved. */
  spec: OciSpec;
  /** RFC 3339, for `state` and `list`. */
  created: string;
  /** `start` ran: the held init exec'd the user's process. */
  started?: boolean;
}

export type OciRuntimeFacts = LinuxRuntimeFacts & { oci: OciFacts; spec?: OciSpec };

export function ociFacts(box: Box): OciFacts {
  const facts = (box.runtime as Partial<OciRuntimeFacts>).oci;
  if (!facts) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' was not created by nsbox-runc`, { details: { box: box.name } });
  return facts;
}

/** How the current `create` or `run` launches: through its caller. */
export interface LaunchRequest {
  caller: CallerPort;
  consoleSocket?: string;
  /** `run` in the foreground: the caller waits for the init, so it becomes its reaper. */
  subreaper?: boolean;
  /** fds 3 … 2+N of the caller that the box gets (--preserve-fds and LISTEN_FDS). */
  preserveFds: number;
  /** The caller's environment (hooks without `env` run with it). */
  env: string[];
}

/** nsbox-runc create's bundle, handed to the driver's create (and to the spec of the hooks that run before it). */
export const ociBundleInput = defineOperationInput<Omit<OciFacts, 'created'>>('oci.bundle');
/** How this `create` or `run` launches its box, handed to the driver's start. */
export const ociLaunchInput = defineOperationInput<LaunchRequest>('oci.launch');

export interface OciDriverOptions {
  stateDir: string;
  cgroups: OciCgroupDriver;
}

/** /proc/PID/stat state 'Z': exited, not yet reaped by its parent (conmon, the shim...). */
export function isZombie(identity: ProcessIdentity | undefined): boolean {
  if (!identity || !isSameProcess(identity)) return false;
  try {
    const stat = readFileSync(`/proc/${identity.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Alive in the sense that matters: running, not a zombie waiting for its reaper. */
export function isRunning(identity: ProcessIdentity | undefined): boolean {
  return isSameProcess(identity) && !isZombie(identity);
}

export class OciBoxDriver extends LinuxBoxDriver {
  constructor(options: OciDriverOptions) {
    super({ stateDir: options.stateDir, cgroups: options.cgroups });
  }

  override async create(box: Box, context: OperationContext): Promise<Record<string, unknown>> {
    const pending = ociBundleInput.of(context);
    if (!pending)
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no bundle: OCI boxes are made by nsbox-runc create`, { details: { box: box.name } });
    const facts = await super.create(box, context);
    return { ...facts, oci: { ...pending, created: new Date().toISOString() } satisfies OciFacts };
  }

  /** config.json; during create (validate hooks run before the box has facts) the operation's bundle. */
  override baseSpec(box: Box, context?: OperationContext): OciSpec {
    const facts = (box.runtime as Partial<OciRuntimeFacts>).oci ?? ociBundleInput.of(context);
    if (!facts) return ociFacts(box).spec; // throws the explanation
    return structuredClone(facts.spec);
  }

  override async start(box: Box, spec: OciSpec, context?: OperationContext, moments?: StartMoments): Promise<Record<string, unknown>> {
    const launch = ociLaunchInput.of(context);
    if (!launch) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is started by nsbox-runc create or run`, { details: { box: box.name } });
    const facts = ociFacts(box);
    const files = this.files(box);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    for (const stale of [files.exitFile, this.startSocket(box)]) removeTreeSync(stale);
    writeFileSync(files.specFile, JSON.stringify(spec, null, 2));
    const cgroup = this.makeCgroup(box);
    try {
      // config.json's linux.resources, then the plugins' (limits' default pids), merged by the runtime.
      this.resources.apply(box, OCI_OWNER, translateResources(spec.linux.resources).resources);
      await moments?.configure();
      checkSysctls(
        spec.linux.sysctl,
        spec.linux.namespaces.map((namespace) => namespace.type),
        spec.domainname,
      );
      const program = [
        ...compileCreateProgram(launchSpec(spec, cgroup), {
          procsFiles: cgroup.procsFiles,
          ...(cgroup.unifiedDir ? { unifiedDir: cgroup.unifiedDir } : {}),
        }),
        ...ociLaunchOps(spec, {
          startSocket: this.startSocket(box),
          state: { ociVersion: OCI_VERSION, id: facts.id, bundle: facts.bundle, annotations: spec.annotations ?? {} },
          callerEnv: launch.env,
          preserveFds: launch.preserveFds,
        }),
      ];
      const programFile = join(files.dir, 'program.bin');
      writeFileSync(programFile, encodeProgram(program), { mode: 0o600 });
      const size = (spec.process as { consoleSize?: { height: number; width: number } }).consoleSize;
      const answer = await launch.caller.spawn({
        launcher: launcherPath,
        program: programFile,
        ...(spec.process.terminal ? { tty: true } : {}),
        ...(launch.consoleSocket ? { consoleSocket: launch.consoleSocket } : {}),
        ...(size ? { rows: size.height, cols: size.width } : {}),
        ...(launch.subreaper ? { subreaper: true } : {}),
        ...(launch.preserveFds > 0 ? { preserveFds: launch.preserveFds } : {}),
      });
      const ok = /^ok (\d+)$/.exec(answer.line);
      if (!ok) throw launcherError(answer.line);
      // The init holds in its network namespace: the host's devices config.json names go in now.
      moveNetDevices(netDeviceMoves(spec), Number(ok[1]));
      // `ok` comes once the init holds: built, waiting for `start` on the socket — the wire moment.
      const started = { init: identify(Number(ok[1])), cgroup: box.id, startedAt: Date.now() } satisfies LinuxRuntimeFacts;
      await moments?.wire(started);
      return started;
    } catch (error) {
      await this.removeCgroup(box).catch(() => undefined);
      throw error;
    }
  }

  /**
   * `restore`: as a start, but the caller's front runs the checkpoint engine's restore
   * launcher (criu restore --restore-detached) in place of the launcher, so that the restored
   * init ends up the caller's descendant (conmon, a child subreaper, reaps it) as a created
   * one does. It runs at once: there is no held init and no `start`.
   */
  override async restore(
    box: Box,
    spec: OciSpec,
    options: RestoreOptions,
    context: OperationContext,
    moments?: StartMoments,
  ): Promise<Record<string, unknown>> {
    const launch = ociLaunchInput.of(context);
    if (!launch) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is restored by nsbox-runc restore`, { details: { box: box.name } });
    const engine = this.checkpointEngines.require(box, 'restore');
    engine.check?.(box, spec);
    const facts = ociFacts(box);
    const files = this.files(box);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    removeTreeSync(files.exitFile);
    writeFileSync(files.specFile, JSON.stringify(spec, null, 2));
    this.makeCgroup(box);
    try {
      this.resources.apply(box, OCI_OWNER, translateResources(spec.linux.resources).resources);
      await moments?.configure();
      const netns = restoreNetns(box, spec, engine.restoreNeeds?.(options.imageDir).netns ?? false);
      const launcher = await this.restoreLauncher(engine, box, spec, options, context, netns);
      // The front hands the launcher a program on fd 3: the restore script has none to read.
      const programFile = join(files.dir, 'restore-program.bin');
      writeFileSync(programFile, '', { mode: 0o600 });
      // A box with a terminal gets a new pty (through the console socket), which the engine
      // hands the restored tree in place of its old one.
      const answer = await launch.caller.spawn({
        launcher: launcher.path,
        program: programFile,
        ...(spec.process.terminal ? { tty: true } : {}),
        ...(launch.consoleSocket ? { consoleSocket: launch.consoleSocket } : {}),
        ...(launch.subreaper ? { subreaper: true } : {}),
      });
      const ok = /^ok (\d+)$/.exec(answer.line);
      if (!ok) throw launcherError(answer.line);
      const restored = {
        init: identify(Number(ok[1])),
        cgroup: box.id,
        startedAt: Date.now(),
        oci: { ...facts, started: true } satisfies OciFacts,
        restoredFrom: { engine: engine.name, imageDir: options.imageDir, ...launcher.facts },
      };
      await moments?.wire(restored);
      return restored;
    } catch (error) {
      await this.removeCgroup(box).catch(() => undefined);
      throw error;
    }
  }

  /** An init that exited but was not reaped yet (its reaper is the engine) is stopped. */
  override async status(box: Box): Promise<DriverStatus> {
    const init = (box.runtime as LinuxRuntimeFacts).init;
    if (isZombie(init)) return { state: 'stopped' };
    return super.status(box);
  }

  /** The socket the held init waits on until `start` (in the box's state directory, never in the box). */
  startSocket(box: Pick<Box, 'id'>): string {
    return join(this.files(box).dir, 'start.sock');
  }
}

/**
 * The network namespace a restore joins, for images that left theirs out (its links were
 * wired from the host: podman's netavark veth): the one config.json names, which the engine
 * made again for this restore, as criu's `--external net`.
 */
function restoreNetns(box: Box, spec: OciSpec, needed: boolean): string | undefined {
  if (!needed) return undefined;
  const path = spec.linux.namespaces.find((namespace) => namespace.type === 'network')?.path;
  if (path) return path;
  throw new NsboxError(
    'E_INVALID_ARGUMENT',
    `container '${box.name}' was checkpointed with a network namespace of its caller's: config.json must name one (linux.namespaces network path) to restore it into`,
    { details: { field: 'linux.namespaces' } },
  );
}

/** 'error STEP ERRNO MESSAGE' from the launcher (read by the runtime's one reader), as runc would word it. */
export function launcherError(line: string): NsboxError {
  const failure = launcherFailure(line);
  if (!failure) return new NsboxError('E_RUNTIME', `the launcher gave no verdict (${line || 'no output'})`, { details: { step: 'launch' } });
  return new NsboxError('E_RUNTIME', `${failure.step}: ${failure.message}`, { details: { step: failure.step, errno: failure.errno } });
}
