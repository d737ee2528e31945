/**
 * The plugin host: checks and orders the installed plugins, loads each one into a child
 * container of its own (it sees the core's and the runtime's services, cannot rebind them,
 * and shares only what it provides or publishes), runs their `setup`, and hands out their
 * hooks, contributions and host services in dependency order.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Container, type ServiceIdentifier } from 'inversify';
import type { Box } from './box.js';
import { coreRefs } from './core-refs.js';
import { NsboxError, registerPluginErrors } from './errors.js';
import type { OperationLog } from './operation-context.js';
import type { AnyPlugin, Contribution, HostService, LifecycleHooks, PluginEnv } from './plugin.js';
import { checkPlugins, orderPlugins } from './plugin-order.js';
import type { ContributionPoint, ServiceRef, ServiceRefs, ServiceSource } from './service-ref.js';
import { CoreTokens } from './tokens.js';
import { CORE_API_VERSION } from './version.js';

export interface PluginHostOptions {
  /** Installed plugins (explicit list and discovered packages together). */
  plugins: readonly AnyPlugin[];
  /** Plugins the host admin disabled: not loaded at all. */
  disabled?: readonly string[];
  /** An existing container (the face's) to load into; a new one otherwise. */
  container?: Container;
  coreApiVersion?: string;
  /** host.json's `settings`: plugin name → its section. */
  settings?: Record<string, unknown>;
  /** Where plugins keep their files: `<dataRoot>/<plugin>` (a temporary dir when not given). */
  dataRoot?: string;
  /** Refs the face bound in the container before (the driver's): no plugin may rebind them. */
  protectedRefs?: readonly ServiceRef<unknown>[];
  /** A logger factory per plugin (silent when not given). */
  log?: (plugin: string) => OperationLog;
}

export interface LoadedPlugin {
  definition: AnyPlugin;
  hooks: LifecycleHooks | undefined;
  /** The plugin's own child container. */
  container: Container;
  /** Its host services (started by the resident agent). */
  services: HostService[];
}

export interface PluginInfo {
  name: string;
  version: string;
  core: string;
  requires: Record<string, string>;
  enabled: boolean;
  publishes: string[];
  commands: string[];
  actions: string[];
  description?: string;
}

/**
 * The installed plugins a host runs, in the order it runs them: none disabled that is not
 * installed, each compatible with this core and with what it requires (a face that only
 * parses a plugin's command, the CLI through nsboxd, checks them the same way).
 */
export function enabledPlugins(installed: readonly AnyPlugin[], disabled: ReadonlySet<string>, coreApiVersion = CORE_API_VERSION): AnyPlugin[] {
  for (const name of disabled) {
    if (!installed.some((plugin) => plugin.name === name)) {
      throw new NsboxError('E_PLUGIN_NOT_FOUND', `cannot disable plugin '${name}': it is not installed`, { details: { plugin: name } });
    }
  }
  const enabled = installed.filter((plugin) => !disabled.has(plugin.name));
  checkPlugins(enabled, coreApiVersion);
  return orderPlugins(enabled);
}

const silentLog: OperationLog = { debug() {}, info() {}, warn() {} };

export class PluginHost implements ServiceSource {
  readonly container: Container;
  /** Enabled plugins, dependencies first. */
  readonly plugins: readonly LoadedPlugin[];
  private readonly installed: readonly AnyPlugin[];
  private readonly disabled: ReadonlySet<string>;
  /** Tokens only the face binds: a plugin that binds one in its module is refused. */
  private readonly protectedTokens = new Set<ServiceIdentifier>(Object.values(CoreTokens));
  private initialized = false;

  /** Builds the host and runs every plugin's `setup`: what faces call. */
  static async create(options: PluginHostOptions): Promise<PluginHost> {
    const host = new PluginHost(options);
    await host.init();
    return host;
  }

  constructor(private readonly options: PluginHostOptions) {
    this.installed = options.plugins;
    this.disabled = new Set(options.disabled ?? []);
    const ordered = enabledPlugins(options.plugins, this.disabled, options.coreApiVersion);

    this.container = options.container ?? new Container({ defaultScope: 'Singleton' });
    // The face's core services, under their typed refs too (bound once, whoever made the container).
    if (!this.isBound(coreRefs.hostSettings.token)) this.container.bind(coreRefs.hostSettings.token).toConstantValue(options.settings ?? {});
    if (!this.isBound(coreRefs.pluginState.token) && this.isBound(CoreTokens.PluginState)) {
      this.container.bind(coreRefs.pluginState.token).toDynamicValue((context) => context.get(CoreTokens.PluginState));
    }
    for (const ref of options.protectedRefs ?? []) this.protectedTokens.add(ref.token);
    this.protectedTokens.add(coreRefs.hostSettings.token);
    this.protectedTokens.add(coreRefs.pluginState.token);
    this.plugins = ordered.map((definition) => this.load(definition));
    if (!this.isBound(CoreTokens.PluginHost)) this.container.bind(CoreTokens.PluginHost).toConstantValue(this);
  }

  /** Binds a service of the face's under a ref before `init` (the runtime's refs); plugins cannot rebind it. */
  provide<T>(ref: ServiceRef<T>, value: T): void {
    this.container.bind(ref.token).toConstantValue(value);
    this.protectedTokens.add(ref.token);
  }

  private isBound(token: ServiceIdentifier): boolean {
    return this.container.isCurrentBound(token);
  }

  private load(definition: AnyPlugin): LoadedPlugin {
    if (definition.errors) registerPluginErrors(definition.name, definition.errors);
    const child = new Container({ parent: this.container, defaultScope: 'Singleton' });
    if (definition.module) child.load(definition.module);
    for (const token of this.protectedTokens) {
      if (child.isCurrentBound(token)) {
        throw new NsboxError('E_PLUGIN_INVALID', `plugin '${definition.name}' rebinds ${String(token)}, which belongs to the host`, {
          details: { plugin: definition.name, token: String(token) },
        });
      }
    }
    // What it publishes by name stays reachable from the host's container (faces, other plugins).
    for (const token of Object.values(definition.publishes)) {
      if (!this.container.isCurrentBound(token)) this.container.bind(token).toDynamicValue(() => child.get(token));
    }
    return { definition, hooks: this.instantiateHooks(definition, child), container: child, services: [] };
  }

  private instantiateHooks(plugin: AnyPlugin, child: Container): LifecycleHooks | undefined {
    if (!plugin.hooks) return undefined;
    try {
      if (!child.isCurrentBound(plugin.hooks)) child.bind(plugin.hooks).toSelf().inSingletonScope();
      return child.get(plugin.hooks) as LifecycleHooks;
    } catch (error) {
      throw new NsboxError('E_PLUGIN_INVALID', `plugin '${plugin.name}': cannot create its hooks: ${(error as Error).message}`, {
        details: { plugin: plugin.name },
        cause: error,
      });
    }
  }

  /** Runs each plugin's `setup` in dependency order: its deps, hooks, contributions, host services. */
  async init(): Promise<void> {
    if (this.initialized) return;
    this.initialized = true;
    for (const loaded of this.plugins) {
      const { definition } = loaded;
      if (!definition.setup) continue;
      const env = this.envFor(definition, loaded.container);
      let parts: Awaited<ReturnType<NonNullable<AnyPlugin['setup']>>>;
      try {
        parts = await definition.setup(env);
      } catch (error) {
        if (error instanceof NsboxError) throw error;
        throw new NsboxError('E_PLUGIN_INVALID', `plugin '${definition.name}': setup failed: ${(error as Error).message}`, {
          details: { plugin: definition.name },
          cause: error,
        });
      }
      for (const provision of parts.provides ?? []) {
        if (this.protectedTokens.has(provision.ref.token) || this.container.isCurrentBound(provision.ref.token)) {
          throw new NsboxError('E_PLUGIN_INVALID', `plugin '${definition.name}' provides '${provision.ref.id}', which is already provided`, {
            details: { plugin: definition.name, ref: provision.ref.id },
          });
        }
        this.container.bind(provision.ref.token).toConstantValue(provision.value);
      }
      for (const contribution of parts.contributions ?? []) this.addContribution(contribution);
      if (parts.hooks) loaded.hooks = mergeHooks(loaded.hooks, parts.hooks);
      loaded.services = [...(parts.services ?? [])];
    }
  }

  private addContribution(contribution: Contribution): void {
    this.container.bind(contribution.point.token).toConstantValue(contribution.value);
  }

  private envFor(definition: AnyPlugin, own: Container): PluginEnv {
    const resolve = (refs: ServiceRefs | undefined, optional: boolean) => {
      const resolved: Record<string, unknown> = {};
      for (const [key, ref] of Object.entries(refs ?? {})) {
        const value = optional ? this.getOptional(ref) : this.getRequired(ref, definition.name);
        resolved[key] = value;
      }
      return resolved;
    };
    const rawSettings = this.options.settings?.[definition.name];
    return {
      deps: { ...resolve(definition.optionalDeps, true), ...resolve(definition.deps, false) },
      settings: parseHostSettings(definition, rawSettings),
      dataDir: () => {
        const dir = join(this.options.dataRoot ?? join(process.env.TMPDIR ?? '/tmp', `nsbox-plugin-data-${process.pid}`), definition.name);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        return dir;
      },
      log: this.options.log?.(definition.name) ?? silentLog,
      services: this,
      own: (id) => own.get(id),
    };
  }

  private getRequired<T>(ref: ServiceRef<T>, plugin: string): T {
    const value = this.getOptional(ref);
    if (value === undefined) {
      throw new NsboxError('E_PLUGIN_DEPENDENCY', `plugin '${plugin}' needs the service '${ref.id}', which nothing on this host provides`, {
        details: { plugin, ref: ref.id },
      });
    }
    return value;
  }

  /** The service a typed ref names (E_PLUGIN_DEPENDENCY when nothing provides it). */
  get<T>(ref: ServiceRef<T>): T;
  /** A service by inversify identifier (the face's own, or a plugin's published one). */
  get<T>(id: ServiceIdentifier<T>): T;
  get<T>(refOrId: ServiceRef<T> | ServiceIdentifier<T>): T {
    if (isRef(refOrId)) return this.getRequired(refOrId, 'host');
    return this.container.get<T>(refOrId);
  }

  getOptional<T>(ref: ServiceRef<T>): T | undefined {
    return this.container.isBound(ref.token) ? this.container.get<T>(ref.token) : undefined;
  }

  /** Every contribution to a point, in plugin dependency order. */
  contributions<T>(point: ContributionPoint<T>): T[] {
    return this.container.isBound(point.token) ? this.container.getAll<T>(point.token) : [];
  }

  /** A service a plugin publishes under a public name, e.g. service('limits', 'pools'). */
  service<T>(pluginName: string, serviceName: string): T {
    const plugin = this.plugins.find((loaded) => loaded.definition.name === pluginName);
    const id = plugin?.definition.publishes[serviceName];
    if (!plugin || !id) {
      throw new NsboxError('E_PLUGIN_NOT_FOUND', `plugin '${pluginName}' does not publish a service '${serviceName}'`, {
        details: { plugin: pluginName, service: serviceName },
      });
    }
    return plugin.container.get<T>(id as ServiceIdentifier<T>);
  }

  /** Every host service of every enabled plugin, in dependency order. */
  hostServices(): { plugin: string; service: HostService }[] {
    return this.plugins.flatMap((loaded) => loaded.services.map((service) => ({ plugin: loaded.definition.name, service })));
  }

  /** The plugins that apply to a box: enabled on the host and not disabled by the box. */
  pluginsFor(box: Pick<Box, 'name' | 'config'>): LoadedPlugin[] {
    const boxDisabled = new Set(box.config.plugins?.disable ?? []);
    const active = this.plugins.filter((plugin) => !boxDisabled.has(plugin.definition.name));
    for (const plugin of active) {
      for (const dependency of Object.keys(plugin.definition.requires)) {
        if (boxDisabled.has(dependency)) {
          throw new NsboxError('E_PLUGIN_DEPENDENCY', `box '${box.name}' disables plugin '${dependency}', which plugin '${plugin.definition.name}' requires`, {
            details: { plugin: plugin.definition.name, requires: dependency },
          });
        }
      }
    }
    return active;
  }

  describe(): PluginInfo[] {
    return orderPlugins(this.installed).map((plugin) => ({
      name: plugin.name,
      version: plugin.version,
      core: plugin.core,
      requires: plugin.requires,
      enabled: !this.disabled.has(plugin.name),
      publishes: Object.keys(plugin.publishes),
      commands: plugin.commands.map((command) => command.name),
      actions: (plugin.actions ?? []).map((action) => action.name),
      ...(plugin.description ? { description: plugin.description } : {}),
    }));
  }

  definitions(): AnyPlugin[] {
    return this.plugins.map((plugin) => plugin.definition);
  }
}

function isRef<T>(value: ServiceRef<T> | ServiceIdentifier<T>): value is ServiceRef<T> {
  return typeof value === 'object' && value !== null && 'token' in value && 'id' in value;
}

/** A class's hooks and `setup`'s hooks together: both run, the class's first. */
function mergeHooks(first: LifecycleHooks | undefined, second: LifecycleHooks): LifecycleHooks {
  if (!first) return second;
  const merged: Record<string, unknown> = {};
  const names = new Set([...Object.keys(second), ...allMethodNames(first)]);
  for (const name of names) {
    const a = (first as Record<string, unknown>)[name];
    const b = (second as Record<string, unknown>)[name];
    if (typeof a === 'function' && typeof b === 'function') {
      merged[name] = async (...args: unknown[]) => {
        await a.apply(first, args);
        await b.apply(second, args);
      };
    } else if (typeof a === 'function') merged[name] = a.bind(first);
    else if (typeof b === 'function') merged[name] = b.bind(second);
  }
  return merged as LifecycleHooks;
}

function allMethodNames(object: object): string[] {
  const names = new Set<string>(Object.keys(object));
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

/** The plugin's host.json section through its schema (defaults apply when it has none). */
function parseHostSettings(plugin: AnyPlugin, raw: unknown): unknown {
  const schema = plugin.hostSettings;
  if (!schema) return raw ?? {};
  const result = schema['~standard'].validate(raw ?? {});
  if (result instanceof Promise) throw new NsboxError('E_PLUGIN_INVALID', `plugin '${plugin.name}': its host settings schema must validate synchronously`);
  if (result.issues) {
    const issues = result.issues.map((issue) => ({
      path: (issue.path ?? []).map((part) => (typeof part === 'object' ? String(part.key) : String(part))).join('.'),
      message: issue.message,
    }));
    throw new NsboxError('E_INVALID_CONFIG', `host.json settings.${plugin.name}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, {
      details: { plugin: plugin.name, issues },
    });
  }
  return result.value;
}
