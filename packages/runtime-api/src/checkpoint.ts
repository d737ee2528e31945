/**
 * The checkpoint engine a plugin installs into the runtime (the migration plugin's CRIU).
 * The runtime keeps what is its own — the box's cgroup, its shim and supervision, the
 * moments plugins hook into — and asks the engine only to save a process tree and to bring
 * one back under the shim it starts.
 */

import { type Box, defineOperationInput, type OciSpec, type OperationContext } from '@nsbox/core';

/** What the runtime knows of a running box when it is saved. */
export interface CheckpointRequest {
  box: Box;
  /** The spec the box runs with (its mounts, its namespaces). */
  spec: OciSpec;
  /** The init's pid in the host's pid namespace: the root of the tree to save. */
  initPid: number;
  /** The box's root filesystem on the host. */
  rootfs: string;
  /** The box's directory in the runtime's state (engine logs go there). */
  boxDir: string;
  /** Where the images go (exists, empty). */
  imageDir: string;
  /** The processes keep running after the dump; otherwise they end with it. */
  leaveRunning: boolean;
  /** Engine options given by the caller (`CheckpointOptions.extra`). */
  extra: Record<string, unknown>;
}

/** What the runtime asks for when it restores a box. */
export interface RestoreRequest {
  box: Box;
  spec: OciSpec;
  /**
   * The box's root as its processes saw it: run the engine under `wrapper` (a command and its
   * arguments, the engine's own command appended; empty: none needed) and `path` is the root
   * mounted as the launcher mounted it — idmapped in a box with a user namespace, with its
   * attributes (nosuid, nodev).
   */
  root: { path: string; wrapper: string[] };
  boxDir: string;
  imageDir: string;
  extra: Record<string, unknown>;
  /**
   * The network namespace the restored box joins (`/proc/PID/ns/net`), when the engine asked
   * for one (`restoreNeeds`): made by the runtime and wired by the plugins at the wire moment
   * (the network plugin's veth, addresses and rules) before the engine runs.
   */
  netns?: string;
}

/** What a restore from these images needs from the runtime before the engine runs. */
export interface RestoreNeeds {
  /** A network namespace wired by the plugins: the dump left the box's network to the host's plugins. */
  netns?: boolean;
}

/**
 * A restore runs under the box's shim as a launcher would (native PROTOCOL.md §1: fds 0–2 the
 * box's new stdio, 4 the result pipe, one `ok PID` or `error STEP ERRNO MESSAGE` line): the
 * restored init then is the shim's to supervise, as a started one is. The engine writes that
 * executable; the runtime hands it to the shim.
 */
export interface RestoreLauncher {
  /** An executable following the launcher's contract. */
  path: string;
  /** Facts to record on the box (where the images came from, the engine's version). */
  facts?: Record<string, unknown>;
}

export interface CheckpointEngine {
  /** Its name in messages and facts (`criu`). */
  readonly name: string;
  /** E_UNSUPPORTED (with why) when this box cannot be saved by the engine, before anything stops. */
  check?(box: Box, spec: OciSpec): void;
  /**
   * Saves the tree; returns facts recorded on the box. `pagesOwed: true` among them: the tree
   * stays frozen after the return (a post-copy dump serving the memory it left out) and ends
   * once the engine handed it over, so the runtime does not wait for its end.
   */
  checkpoint(request: CheckpointRequest, context: OperationContext): Promise<Record<string, unknown>>;
  /** What the images need before their restore (E_NOT_FOUND when there are none). */
  restoreNeeds?(imageDir: string): RestoreNeeds;
  restoreLauncher(request: RestoreRequest, context: OperationContext): Promise<RestoreLauncher>;
}

/** Where a plugin installs its engine (runtimeRefs.checkpointEngines); one at a time. */
export interface CheckpointEngines {
  /** Installs the engine; the function returned removes it again. E_BUSY when another is installed. */
  install(engine: CheckpointEngine): () => void;
  current(): CheckpointEngine | undefined;
}

/**
 * A box that arrives from another host (the migration plugin's import): its root is the
 * rootfs tarball it brought, unpacked into the box's own directory (checked member by member,
 * as a template tarball is), instead of what its config names — a template may not exist on
 * this host, a rootfs directory is the other host's. The config stays as it was.
 */
export const rootfsArchiveInput = defineOperationInput<{ archive: string }>('runtime.rootfs-archive');
