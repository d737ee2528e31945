/**
 * The application layer every face uses (after podman's `ContainerEngine`, with its `abi` and
 * `tunnel` implementations): what can be done with boxes, once. `@nsbox/host` implements it
 * in-process (the CLI in local mode, nsboxd under its tenant scope), `@nsbox/client` over the
 * HTTP API (the CLI when nsboxd runs, panels). A use case written against it runs the same
 * whichever way it travels, and so does a plugin's action that changes a box through it.
 *
 * Boxes come back as the API shows them: a list leaves out the OCI spec, `get` has it and the
 * box's last exit. Stop and restart timeouts are in seconds.
 */

import type { ActionInfo } from './action.js';
import type { Box, BoxConfig, BoxState } from './box.js';
import type { BoxEvent } from './events.js';
import type { OperationContext } from './operation-context.js';
import type { PluginInfo } from './plugin-host.js';

export interface BoxListQuery {
  owner?: string;
  state?: BoxState;
  template?: string;
  /** Names starting with this prefix. */
  name?: string;
  /**
   * false: the states as stored, without asking each live box's processes first — for
   * listings that poll where a resident agent keeps the states in line (default true).
   */
  sync?: boolean;
}

export interface CreateBoxRequest {
  name: string;
  config: Record<string, unknown>;
  /** The tenant that owns it (host-wide callers only; a tenant creates for itself). */
  owner?: string;
  /** Start it once created, as one operation: a start that fails removes the box again. */
  start?: boolean;
}

export interface ExecRequest {
  command: string[];
  /** Added to the box's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  user?: { uid: number; gid: number };
  /** Given to the process's stdin, then end of file. */
  stdin?: string;
  /** Seconds before the process is killed. */
  timeout?: number;
}

export interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Output beyond what is kept was dropped. */
  truncated?: boolean;
}

export interface HistoryFilter {
  kind?: string;
  since?: number;
  until?: number;
  /** Events after this id. */
  after?: number;
  limit?: number;
  /** Only the last N events. */
  last?: number;
}

export interface FollowLogsOptions {
  /** Only what comes from now on. */
  fromEnd?: boolean;
  signal?: AbortSignal;
}

/** What `set` did: the box, and each plugin's part under its name. */
export interface SetResult {
  box: string;
  state: string;
  appliedInMs: number;
  [plugin: string]: unknown;
}

export interface BoxApi {
  list(filter?: BoxListQuery): Promise<Box[]>;
  /** The box with its state brought in line with its processes, its spec and last exit. */
  get(idOrName: string): Promise<Box>;
  create(input: CreateBoxRequest): Promise<Box>;
  start(idOrName: string): Promise<Box>;
  stop(idOrName: string, options?: { timeout?: number }): Promise<Box>;
  restart(idOrName: string, options?: { timeout?: number }): Promise<Box>;
  /** A signal by name (`TERM`, `SIGKILL`) or number; SIGTERM by default. */
  kill(idOrName: string, signal?: string | number): Promise<{ name: string; signal: number }>;
  pause(idOrName: string): Promise<Box>;
  resume(idOrName: string): Promise<Box>;
  /** Replaces whole config sections (null removes one); a running box gets them live. */
  update(idOrName: string, config: Record<string, unknown>): Promise<Box>;
  /**
   * `nsbox set`: the plugins' set options (setOptionPoint) by input field, all validated before
   * any is applied, kept in the config and applied live on a running box.
   */
  set(idOrName: string, options: Record<string, unknown>): Promise<SetResult>;
  destroy(idOrName: string, options?: { force?: boolean }): Promise<{ name: string; destroyed: boolean }>;
  /** The console output so far. */
  logs(idOrName: string): Promise<string>;
  /** The console output from the start (or its end), then as it comes, until the box stops or `signal` aborts. */
  followLogs(idOrName: string, options?: FollowLogsOptions): AsyncIterable<Uint8Array>;
  /** Runs a command in a running box and captures its output. */
  exec(idOrName: string, request: ExecRequest): Promise<ExecOutput>;
  /** What each plugin says about the box (the box-info contribution point). */
  details(idOrName: string): Promise<Record<string, unknown>>;
  history(idOrName: string, filter?: HistoryFilter): Promise<BoxEvent[]>;
  plugins(): Promise<PluginInfo[]>;
  /** Checks a config against the core and every plugin without creating anything. */
  validateConfig(config: Record<string, unknown>, name?: string): Promise<{ valid: true; config: BoxConfig }>;
  /** Every action of every enabled plugin. */
  actions(): Promise<ActionInfo[]>;
  /** Runs a plugin's action (its input validated by its schema) and returns its result. */
  /** `ctx` gets the action's progress and cancels it (its signal), on every face. */
  runAction(plugin: string, action: string, input?: unknown, ctx?: OperationContext): Promise<unknown>;
}
