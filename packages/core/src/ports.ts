/**
 * What the core needs from the outside world, as interfaces: persistence (packages/store)
 * and the box driver (packages/runtime). The core holds no implementation of either.
 */

import type { Box, BoxState, OperationKind, StableState } from './box.js';
import type { BoxEvent } from './box-event.js';
import type { OciSpec } from './oci-spec.js';
import type { OperationContext } from './operation-context.js';
import type { Provision } from './plugin.js';

export interface BoxListFilter {
  owner?: string;
  state?: BoxState;
}

export interface BoxRepository {
  insert(box: Box): void;
  update(box: Box): void;
  find(idOrName: string): Box | undefined;
  list(filter?: BoxListFilter): Box[];
  remove(id: string): void;
}

export interface HistoryQuery {
  boxId?: string;
  kind?: string;
  since?: number;
  until?: number;
  afterId?: number;
  limit?: number;
}

export interface HistoryRepository {
  append(event: Omit<BoxEvent, 'id'>): BoxEvent;
  query(query: HistoryQuery): BoxEvent[];
}

export type OperationStatus = 'running' | 'done' | 'failed' | 'rolled-back';

export interface OperationRecord {
  id: number;
  boxId: string;
  kind: OperationKind;
  /** The stable state the box was in before; reconcile returns it there. */
  fromState: StableState;
  status: OperationStatus;
  /** Process that runs it; reconcile only touches operations whose process is gone. */
  pid: number;
  /** Step ids in the order they completed. */
  doneSteps: string[];
  /**
   * The last undoable step begun (recorded before it runs): when it is not among the done
   * ones, a process was killed inside it, and reconcile undoes it too (undo is idempotent).
   */
  begunStep: string | null;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}

export interface OperationJournal {
  /** Records the intent; throws E_BUSY when another live process runs an operation on the box. */
  begin(op: { boxId: string; kind: OperationKind; fromState: StableState; pid: number }): OperationRecord;
  /** Records that an undoable step is about to run (before any of its effects). */
  stepBegun(opId: number, stepId: string): void;
  stepDone(opId: number, stepId: string): void;
  finish(opId: number, status: Exclude<OperationStatus, 'running'>, error?: string): void;
  /** Operations still marked running. */
  unfinished(): OperationRecord[];
}

/**
 * Small persistent state of plugins (uid ranges handed out, pool paths...), shared by every
 * process of a host. `claim` is atomic across processes: it is how allocators avoid handing
 * the same thing out twice.
 */
export interface PluginStateStore {
  get(namespace: string, key: string): string | undefined;
  set(namespace: string, key: string, value: string): void;
  /** Stores the value only if the key is free; true when this caller got it. */
  claim(namespace: string, key: string, value: string): boolean;
  delete(namespace: string, key: string): void;
  /**
   * The namespace's entries in key order; with `prefix`, only keys that start with it (found
   * through the index: a per-box lookup costs the same with 10 boxes or 10,000).
   */
  list(namespace: string, prefix?: string): { key: string; value: string }[];
}

/** A value SQLite stores and gives back. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/**
 * A plugin's own SQLite database (a file in its data dir, WAL, shared by every process of the
 * host): for what a key/value state does not fit, such as time series. Its tables migrate
 * with the plugin's own append-only list of steps; the host's box database stays out of reach.
 */
export interface PluginDatabase {
  readonly path: string;
  run(sql: string, ...params: SqlValue[]): { changes: number };
  get<T>(sql: string, ...params: SqlValue[]): T | undefined;
  all<T>(sql: string, ...params: SqlValue[]): T[];
  /** One write transaction (BEGIN IMMEDIATE): other processes wait rather than interleave. */
  transaction<T>(body: () => T): T;
  /** Bytes the database takes on disk (pages in use and free), with its write-ahead log. */
  sizeBytes(): number;
}

export interface PluginDatabases {
  /**
   * Opens (once per process) the database of `plugin` and brings its schema to the last of
   * `migrations`, each step once, in order, in a transaction. Closed with the host.
   */
  open(plugin: string, migrations: readonly string[]): PluginDatabase;
  /**
   * Whether `plugin` has a database already (an open of this or another process made it): to
   * read or delete without making one where the plugin never wrote.
   */
  exists(plugin: string): boolean;
}

/** What an open host hands its driver when it asks for the driver's provisions. */
export interface ProvisionHost {
  pluginState: PluginStateStore;
}

export interface DriverStatus {
  state: 'running' | 'paused' | 'stopped';
  exitCode?: number;
  signal?: number;
  /** A stop: the init ignored the stop signal for this long and was killed (SIGKILL). */
  killedAfterMs?: number;
}

/**
 * The moments of a start the core runs plugin hooks at, called by the driver in this order:
 * `configure` once the box's cgroup exists (nothing runs in it), `wire` once its namespaces
 * exist and before its init runs (the facts name the init's pid, its namespaces). A hook
 * that fails fails the start; the driver then tears down what it made.
 */
export interface StartMoments {
  /**
   * Whether a plugin of the box acts at `wire`. Only then must the driver hold the init before
   * its exec (a socket round trip per start); otherwise it may call `wire` once the init runs.
   */
  readonly wiring: boolean;
  configure(): Promise<void>;
  wire(facts: Record<string, unknown>): Promise<void>;
}

export interface CheckpointOptions {
  /** Directory the images go to (made by the caller). */
  imageDir: string;
  /** Keep the box running after the dump (a snapshot); default: it stops. */
  leaveRunning?: boolean;
  /** Pre-dump only (memory, iterative live migration). */
  preDump?: boolean;
  /** Engine-specific options (migration plugin). */
  extra?: Record<string, unknown>;
}

export interface RestoreOptions {
  imageDir: string;
  extra?: Record<string, unknown>;
}

/**
 * Turns a box into processes. packages/runtime implements it for Linux; the core calls it
 * between the plugins' hooks. Every call gets the operation's context (cancel, progress, log).
 */
export interface BoxDriver {
  /** Host-side preparation at create time (rootfs from a template, ...). */
  create(box: Box, context: OperationContext): Promise<Record<string, unknown>>;
  /** The OCI spec every box starts from, before plugins edit it (during create, from the operation's inputs if the driver takes any). */
  baseSpec(box: Box, context?: OperationContext): OciSpec;
  /** Starts the box, calling back at its moments; returns runtime facts stored on the box. */
  start(box: Box, spec: OciSpec, context: OperationContext, moments: StartMoments): Promise<Record<string, unknown>>;
  stop(box: Box, options: { timeoutMs: number }): Promise<DriverStatus>;
  kill(box: Box, signal: number): Promise<void>;
  pause(box: Box): Promise<void>;
  resume(box: Box): Promise<void>;
  status(box: Box): Promise<DriverStatus>;
  /** Removes what create left on the host. Idempotent. */
  destroy(box: Box): Promise<void>;
  /** Removes what a start that did not finish left behind. Idempotent. */
  cleanupStart(box: Box): Promise<void>;
  /** Saves the box's processes (E_UNSUPPORTED when no checkpoint engine is installed). */
  checkpoint(box: Box, options: CheckpointOptions, context: OperationContext): Promise<Record<string, unknown>>;
  /** Brings saved processes back, with the same moments as a start. */
  restore(box: Box, spec: OciSpec, options: RestoreOptions, context: OperationContext, moments: StartMoments): Promise<Record<string, unknown>>;
  /** After a restart of the host process: removes leftovers of boxes that are not running. */
  reconcile?(boxes: Box[]): Promise<void>;
  /**
   * The typed services (runtime-api refs) the driver offers plugins; the face provides them.
   * `host` gives the driver what the host opened after it (the plugin state its cgroup
   * manager keeps the owners' declarations in).
   */
  provisions?(host?: ProvisionHost): Provision[];
}
