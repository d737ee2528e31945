/** The plugin contract: what a plugin package exports, and the helper that types it. */

import type { ContainerModule, Newable, ServiceIdentifier } from 'inversify';
import type { Box } from './box.js';
import type { OciSpec } from './oci-spec.js';
import type { InferOutput, StandardSchemaV1 } from './standard-schema.js';
import type { TenantSafeFields } from './tenant-policy.js';

/** Brand that marks a plugin definition; Symbol.for so copies of the core agree. */
export const PLUGIN_BRAND = Symbol.for('nsbox.plugin');

export const hookNames = ['validate', 'spec', 'prepare', 'started', 'update', 'stopping', 'stopped', 'destroy', 'checkpoint', 'restore'] as const;
export type HookName = (typeof hookNames)[number];

/** Hooks that tear down run in reverse dependency order. */
export const teardownHooks: readonly HookName[] = ['stopping', 'stopped', 'destroy'];

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
}

export type HookFn<TConfig> = (context: HookContext<TConfig>) => void | Promise<void>;

export type LifecycleHooks<TConfig = unknown> = {
  [H in HookName]?: HookFn<TConfig>;
} & {
  /**
   * Undoes what `hook` did for this box. Called in reverse order when a later step of the
   * same operation fails, and by reconcile after a crash, so it must be idempotent and work
   * from the box alone.
   */
  rollback?(context: HookContext<TConfig>, hook: HookName): void | Promise<void>;
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
  /** The face's services (the plugin host, box manager...), typed by the face. */
  services: { get<T>(id: ServiceIdentifier<T>): T };
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

export interface PluginDefinition<TSchema extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined> {
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
}

export type PluginInput<TSchema extends StandardSchemaV1 | undefined> = Omit<
  PluginDefinition<TSchema>,
  typeof PLUGIN_BRAND | 'requires' | 'publishes' | 'commands'
> &
  Partial<Pick<PluginDefinition<TSchema>, 'requires' | 'publishes' | 'commands'>>;

export function definePlugin<TSchema extends StandardSchemaV1 | undefined = undefined>(input: PluginInput<TSchema>): PluginDefinition<TSchema> {
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

export type AnyPlugin = PluginDefinition<StandardSchemaV1 | undefined>;
