/** The plugin contract: what a plugin package exports, and the helper that types it. */

import type { ContainerModule, Newable, ServiceIdentifier } from 'inversify';
import type { AnyAction } from './action.js';
import type { Box } from './box.js';
import type { BoxApi } from './box-api.js';
import type { ErrorCodeInfo } from './errors.js';
import type { OciSpec } from './oci-spec.js';
import type { OperationContext, OperationLog } from './operation-context.js';
import type { ContributionPoint, ResolvedRefs, ServiceRef, ServiceRefs, ServiceSource } from './service-ref.js';
import type { InferOutput, StandardSchemaV1 } from './standard-schema.js';
import type { TenantSafeFields } from './tenant-policy.js';

/** Brand that marks a plugin definition; Symbol.for so copies of the core agree. */
export const PLUGIN_BRAND = Symbol.for('nsbox.plugin');

/**
 * The lifecycle, in the order a box lives it (DESIGN.md, "One box, end to end"):
 * - validate: the config is checked against what this host can do (create and start);
 * - provision: at create, before the driver makes the rootfs: rootfs layers are chosen, claims made;
 * - spec: each plugin edits its part of the OCI spec;
 * - prepare: host-side work before the box's cgroup exists;
 * - configure: the box's cgroup exists, nothing runs in it yet: declare resources;
 * - wire: the box's namespaces exist and its init has not run yet (veth in, BPF, listener);
 * - started: the init runs;
 * - exited: the init ended by itself (exit code, signal, reboot or halt request);
 * - update: a config change applied live;
 * - stopping, stopped, destroy: tear-down, in reverse order;
 * - checkpoint, restore: the box's processes are saved, or brought back.
 */
export const hookNames = [
  'validate',
  'provision',
  'spec',
  'prepare',
  'configure',
  'wire',
  'started',
  'exited',
  'update',
  'stopping',
  'stopped',
  'destroy',
  'checkpoint',
  'restore',
] as const;
export type HookName = (typeof hookNames)[number];

/** Hooks that tear down run in reverse dependency order. */
export const teardownHooks: readonly HookName[] = ['exited', 'stopping', 'stopped', 'destroy'];

/** How a box's init ended, as the `exited` hook and the restart policy see it. */
export interface BoxExitInfo {
  /** `reboot`/`halt`: the box asked for it (reboot(2) in its pid namespace ends init with SIGHUP/SIGINT). */
  reason: 'exit' | 'signal' | 'reboot' | 'halt';
  exitCode?: number;
  signal?: number;
}

export interface HookContext<TConfig = unknown> {
  box: Box;
  /** This plugin's section of the box config (after validation and defaults). */
  config: TConfig | undefined;
  /** The OCI spec being assembled (spec hook) or the one the box was started with. */
  spec: OciSpec;
  /** For update: this plugin's section before the change. */
  previous?: TConfig | undefined;
  /** Reports an event into the box's history, with this plugin as its source. */
  report(kind: string, data?: Record<string, unknown>): void;
  /** The operation this hook runs in: cancel signal, progress, log. */
  operation: OperationContext;
  /** For exited: how the init ended. */
  exit?: BoxExitInfo;
}

export type HookFn<TConfig> = (context: HookContext<TConfig>) => void | Promise<void>;

export type LifecycleHooks<TConfig = unknown> = {
  [H in HookName]?: HookFn<TConfig>;
} & {
  /**
   * Undoes what `hook` did for this box. Called in reverse order when a later step of the
   * same operation fails, and by reconcile after a crash — for the hook the killed process was
   * inside too, whatever part of it was done — so it must be idempotent and work from the box
   * alone.
   */
  rollback?(context: HookContext<TConfig>, hook: HookName): void | Promise<void>;
  /**
   * Whether this box needs this plugin's `wire` hook; without it, every box does. The runtime
   * holds a box's init for the wire moment only when some plugin wires it (a round trip per
   * start saved for a box with nothing to wire), and `wire` runs only for those that do.
   * Asked at each start, after `prepare`, before the box's processes exist.
   */
  wires?(context: HookContext<TConfig>): boolean;
};

/** A command a plugin adds to the CLI; the CLI maps it to its parser. */
export interface CommandContribution {
  name: string;
  description: string;
  arguments?: { name: string; description?: string; required?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; defaultValue?: string | boolean }[];
  run(input: CommandInput): unknown | Promise<unknown>;
  /** Human rendering of the result; `--json` prints the result itself. */
  render?(result: unknown): string;
}

export interface CommandInput {
  args: string[];
  options: Record<string, unknown>;
  /**
   * The application layer as this face reaches it: through nsboxd (the caller's token) when it
   * runs, in-process otherwise — what a live view (`nsbox top`) polls.
   */
  api?(): Promise<BoxApi>;
  /** The face's services (the plugin host, box manager...), typed by the face. */
  services: { get<T>(id: ServiceIdentifier<T>): T };
}

/** A contribution to a point (box info, quota claims, ...): made with `contribute`. */
export interface Contribution<T = unknown> {
  point: ContributionPoint<T>;
  value: T;
}

export function contribute<T>(point: ContributionPoint<T>, value: T): Contribution<T> {
  return { point, value };
}

/** A service this plugin offers other plugins under a typed ref: made with `provide`. */
export interface Provision<T = unknown> {
  ref: ServiceRef<T>;
  value: T;
}

export function provide<T>(ref: ServiceRef<T>, value: T): Provision<T> {
  return { ref, value };
}

/**
 * A long-running service of the plugin on the host (a sampler, a controller loop, a per-box
 * helper supervisor). The resident agent (nsboxd, or `nsboxd --agent`) starts it and stops it;
 * a box never depends on it being up: it may stop, crash or be upgraded while boxes run.
 */
export interface HostService {
  name: string;
  start(context: { signal: AbortSignal; log: OperationLog }): void | Promise<void>;
  stop(): void | Promise<void>;
  /**
   * One round of what the service keeps settling, for a host where no resident agent runs
   * it (the local CLI calls it before it acts, after the boxes' reconcile): what a killed
   * process left is repaired on a host that never runs nsboxd too. Cheap when there is
   * nothing to settle; gives up when `signal` aborts.
   */
  settle?(context: { signal: AbortSignal; log: OperationLog }): void | Promise<void>;
}

/** What a plugin's `setup` receives. */
export interface PluginEnv<TDeps extends ServiceRefs = ServiceRefs, TSettings = unknown> {
  /** The services named in `deps`, typed by their refs. */
  deps: ResolvedRefs<TDeps>;
  /** The plugin's section of host.json (validated by `hostSettings` when given). */
  settings: TSettings;
  /** A directory of the plugin's own under the host's state dir (made on first use). */
  dataDir(): string;
  log: OperationLog;
  /** Everything else: optional refs, contribution points. */
  services: ServiceSource;
  /** A service of the plugin's own module (a plugin that has classes as well as `setup`). */
  own<T>(id: ServiceIdentifier<T>): T;
}

/** What `setup` returns: the parts of the plugin, as plain values and functions. */
export interface PluginParts<TConfig = unknown> {
  hooks?: LifecycleHooks<TConfig>;
  contributions?: Contribution[];
  provides?: Provision[];
  services?: HostService[];
}

/** Roles of API tokens, weakest first; a route names the weakest role that may call it. */
export const apiRoles = ['read-only', 'operator', 'admin'] as const;
export type ApiRole = (typeof apiRoles)[number];

/**
 * An HTTP route a plugin adds to the API (nsboxd mounts it under `/plugins/<plugin>`). The
 * schemas validate the request and document it in the OpenAPI document; the face checks
 * the token and its role before the handler runs.
 */
export interface RouteContribution {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below the plugin's prefix, Fastify syntax: `/pools`, `/boxes/:box/usage`. */
  path: string;
  summary: string;
  /** The weakest role allowed (default: read-only for GET, operator otherwise). */
  role?: ApiRole;
  params?: StandardSchemaV1;
  query?: StandardSchemaV1;
  body?: StandardSchemaV1;
  handler(input: RouteInput): unknown | Promise<unknown>;
}

export interface RouteInput {
  params: unknown;
  query: unknown;
  body: unknown;
  /** The caller's tenant; null for a host-wide token. */
  tenant: string | null;
  /** A box the caller may see (E_NOT_FOUND for another tenant's box, as for a missing one). */
  box(idOrName: string): Box;
  services: { get<T>(id: ServiceIdentifier<T>): T };
}

export interface PluginDefinition<TSchema extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined, TDeps extends ServiceRefs = ServiceRefs> {
  readonly [PLUGIN_BRAND]: true;
  /** kebab-case, stable; also the name of the plugin's config section. */
  name: string;
  version: string;
  description?: string;
  /** semver range of the core plugin API this plugin was written for. */
  core: string;
  /** Plugins this one needs, with semver ranges. Checked at load, never auto-loaded. */
  requires: Record<string, string>;
  config?: TSchema;
  /**
   * Fields of this plugin's section that a tenant may set (paths relative to the section; see
   * TenantSafeFields). Whatever is not listed is refused to tenants unless the admin grants it:
   * a plugin that lists nothing is wholly the host admin's.
   */
  tenantSafe?: TenantSafeFields;
  module?: ContainerModule;
  /** Services this plugin publishes for others: public name → inversify identifier. */
  publishes: Record<string, ServiceIdentifier>;
  hooks?: Newable<LifecycleHooks<TSchema extends StandardSchemaV1 ? InferOutput<TSchema> : undefined>>;
  commands: CommandContribution[];
  /** HTTP routes for the API face (optional: a plugin without them works everywhere). */
  routes?: RouteContribution[];
  /**
   * Actions: declared once, each becomes a CLI command, an API route, an SDK call and an
   * OpenAPI operation, all through the same BoxApi (tokens, tenant policy, quotas, audit).
   */
  actions?: readonly AnyAction[];
  /** Typed refs this plugin needs; resolved for `setup` (a missing one fails the load, named). */
  deps?: TDeps;
  /** Refs this plugin can do without (resolved to undefined when nobody provides them). */
  optionalDeps?: ServiceRefs;
  /** Schema of the plugin's section of host.json; defaults apply when the section is absent. */
  hostSettings?: StandardSchemaV1;
  /**
   * The plugin's parts as plain values and functions (no decorators needed): hooks,
   * contributions, services for other plugins, host services. May be used with or instead of
   * `module` + `hooks` (a class).
   */
  setup?(
    env: PluginEnv<TDeps>,
  ):
    | PluginParts<TSchema extends StandardSchemaV1 ? InferOutput<TSchema> : undefined>
    | Promise<PluginParts<TSchema extends StandardSchemaV1 ? InferOutput<TSchema> : undefined>>;
  /** The plugin's own error codes, registered as `<plugin>:<code>`. */
  errors?: Record<string, Partial<ErrorCodeInfo>>;
}

export type PluginInput<TSchema extends StandardSchemaV1 | undefined, TDeps extends ServiceRefs = ServiceRefs> = Omit<
  PluginDefinition<TSchema, TDeps>,
  typeof PLUGIN_BRAND | 'requires' | 'publishes' | 'commands'
> &
  Partial<Pick<PluginDefinition<TSchema, TDeps>, 'requires' | 'publishes' | 'commands'>>;

export function definePlugin<TSchema extends StandardSchemaV1 | undefined = undefined, TDeps extends ServiceRefs = ServiceRefs>(
  input: PluginInput<TSchema, TDeps>,
): PluginDefinition<TSchema, TDeps> {
  return Object.freeze({
    requires: {},
    publishes: {},
    commands: [],
    ...input,
    [PLUGIN_BRAND]: true as const,
  });
}

export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}

// biome-ignore lint/suspicious/noExplicitAny: any plugin, whatever refs it declares
export type AnyPlugin = PluginDefinition<StandardSchemaV1 | undefined, any>;
