/**
 * The plugin host: checks and orders the installed plugins, loads their inversify modules
 * into one container, and hands out each plugin's hooks in dependency order.
 */

import { Container, type ServiceIdentifier } from 'inversify';
import type { Box } from './box.js';
import { NsboxError } from './errors.js';
import type { AnyPlugin, LifecycleHooks } from './plugin.js';
import { checkPlugins, orderPlugins } from './plugin-order.js';
import { CORE_API_VERSION } from './version.js';

export interface PluginHostOptions {
  /** Installed plugins (explicit list and discovered packages together). */
  plugins: readonly AnyPlugin[];
  /** Plugins the host admin disabled: not loaded at all. */
  disabled?: readonly string[];
  /** An existing container (the face's) to load into; a new one otherwise. */
  container?: Container;
  coreApiVersion?: string;
}

export interface LoadedPlugin {
  definition: AnyPlugin;
  hooks: LifecycleHooks | undefined;
}

export interface PluginInfo {
  name: string;
  version: string;
  core: string;
  requires: Record<string, string>;
  enabled: boolean;
  publishes: string[];
  commands: string[];
  description?: string;
}

export class PluginHost {
  readonly container: Container;
  /** Enabled plugins, dependencies first. */
  readonly plugins: readonly LoadedPlugin[];
  private readonly installed: readonly AnyPlugin[];
  private readonly disabled: ReadonlySet<string>;

  constructor(options: PluginHostOptions) {
    this.installed = options.plugins;
    this.disabled = new Set(options.disabled ?? []);
    for (const name of this.disabled) {
      if (!options.plugins.some((plugin) => plugin.name === name)) {
        throw new NsboxError('E_PLUGIN_NOT_FOUND', `cannot disable plugin '${name}': it is not installed`, { details: { plugin: name } });
      }
    }
    const enabled = options.plugins.filter((plugin) => !this.disabled.has(plugin.name));
    checkPlugins(enabled, options.coreApiVersion ?? CORE_API_VERSION);
    const ordered = orderPlugins(enabled);

    this.container = options.container ?? new Container({ defaultScope: 'Singleton' });
    for (const plugin of ordered) if (plugin.module) this.container.load(plugin.module);
    this.plugins = ordered.map((definition) => ({ definition, hooks: this.instantiateHooks(definition) }));
  }

  private instantiateHooks(plugin: AnyPlugin): LifecycleHooks | undefined {
    if (!plugin.hooks) return undefined;
    try {
      if (!this.container.isBound(plugin.hooks)) this.container.bind(plugin.hooks).toSelf().inSingletonScope();
      return this.container.get(plugin.hooks) as LifecycleHooks;
    } catch (error) {
      throw new NsboxError('E_PLUGIN_INVALID', `plugin '${plugin.name}': cannot create its hooks: ${(error as Error).message}`, {
        details: { plugin: plugin.name },
        cause: error,
      });
    }
  }

  get<T>(id: ServiceIdentifier<T>): T {
    return this.container.get<T>(id);
  }

  /** A service a plugin publishes under a public name, e.g. service('limits', 'cgroupLimits'). */
  service<T>(pluginName: string, serviceName: string): T {
    const plugin = this.plugins.find((loaded) => loaded.definition.name === pluginName);
    const id = plugin?.definition.publishes[serviceName];
    if (!id) {
      throw new NsboxError('E_PLUGIN_NOT_FOUND', `plugin '${pluginName}' does not publish a service '${serviceName}'`, {
        details: { plugin: pluginName, service: serviceName },
      });
    }
    return this.container.get<T>(id as ServiceIdentifier<T>);
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
      ...(plugin.description ? { description: plugin.description } : {}),
    }));
  }

  definitions(): AnyPlugin[] {
    return this.plugins.map((plugin) => plugin.definition);
  }
}
