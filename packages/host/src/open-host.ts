/** Builds everything a face needs from a state directory: store, plugins, events, manager. */

import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type AnyPlugin,
  type BoxDriver,
  BoxManager,
  Container,
  CoreTokens,
  coreRefs,
  discoverPlugins,
  EventBus,
  enabledPlugins,
  isPluginDefinition,
  NsboxError,
  PluginHost,
  registerPluginErrors,
} from '@nsbox/core';
import { resolveStateDir, SqlitePluginDatabases, SqliteStore } from '@nsbox/store';
import { type HostConfig, loadHostConfig } from './host-config.js';

export interface OpenHostOptions {
  stateDir?: string;
  hostConfigFile?: string;
  /** Plugin definitions given in code (an embedding panel, a test). */
  plugins?: AnyPlugin[];
  /** Extra node_modules folders to scan for plugin packages. */
  pluginPaths?: string[];
  /** Overrides the host config's list; tests use it to load only what they name. */
  discover?: boolean;
  disabled?: string[];
  /** The box driver; packages/runtime provides the Linux one. */
  driver?: BoxDriver | ((stateDir: string) => BoxDriver | Promise<BoxDriver>);
  clock?: () => number;
}

export interface NsboxHost {
  stateDir: string;
  config: HostConfig;
  store: SqliteStore;
  plugins: PluginHost;
  events: EventBus;
  manager: BoxManager;
  driver: BoxDriver | undefined;
  close(): void;
}

/** The node_modules folders above this package: where npm put the plugins installed with it. */
export function defaultPluginPaths(from = dirname(fileURLToPath(import.meta.url))): string[] {
  const paths: string[] = [];
  let dir = from;
  for (;;) {
    paths.push(join(dir, 'node_modules'));
    const parent = dirname(dir);
    if (parent === dir) return paths;
    dir = parent;
  }
}

async function importPlugin(specifier: string, stateDir: string): Promise<AnyPlugin> {
  const target = isAbsolute(specifier) || specifier.startsWith('.') ? pathToFileURL(resolve(stateDir, specifier)).href : specifier;
  let module: Record<string, unknown>;
  try {
    module = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    throw new NsboxError('E_PLUGIN_NOT_FOUND', `cannot load plugin '${specifier}' named in the host config: ${(error as Error).message}`, {
      details: { plugin: specifier },
      cause: error,
    });
  }
  const found = Object.values(module).find(isPluginDefinition);
  if (!found) throw new NsboxError('E_PLUGIN_INVALID', `'${specifier}' exports no nsbox plugin definition`, { details: { plugin: specifier } });
  return found as AnyPlugin;
}

/** Explicit plugins win over discovered packages of the same name (a pinned copy, a test). */
function mergeByName(lists: AnyPlugin[][]): AnyPlugin[] {
  const byName = new Map<string, AnyPlugin>();
  for (const list of lists) for (const plugin of list) if (!byName.has(plugin.name)) byName.set(plugin.name, plugin);
  return [...byName.values()];
}

export type FindPluginsOptions = Pick<OpenHostOptions, 'stateDir' | 'hostConfigFile' | 'plugins' | 'pluginPaths' | 'discover' | 'disabled'>;

/** The plugins a host of the state directory loads: named in its config and found installed, imported, not set up. */
async function installedPlugins(options: FindPluginsOptions): Promise<{ stateDir: string; config: HostConfig; plugins: AnyPlugin[]; disabled: string[] }> {
  const stateDir = resolveStateDir(options.stateDir);
  const config = loadHostConfig(stateDir, options.hostConfigFile);
  const explicit = [...(options.plugins ?? []), ...(await Promise.all(config.plugins.map((spec) => importPlugin(spec, stateDir))))];
  const discover = options.discover ?? config.discover;
  // The scan of the node_modules folders is kept in the state directory while they do not change.
  const pluginPaths = [...(options.pluginPaths ?? []), ...config.pluginPaths, ...defaultPluginPaths()];
  const discovered = discover ? await discoverPlugins(pluginPaths, { cacheDir: join(stateDir, 'cache') }) : [];
  return { stateDir, config, plugins: mergeByName([explicit, discovered]), disabled: [...config.disabled, ...(options.disabled ?? [])] };
}

/**
 * The definitions of the plugins a host of the state directory runs, in the order it runs them,
 * checked as it checks them, with their error codes known — without a store, a driver or any
 * plugin's setup: what a CLI that nsboxd serves needs to parse and render a plugin's action.
 */
export async function findPlugins(options: FindPluginsOptions = {}): Promise<AnyPlugin[]> {
  const { plugins, disabled } = await installedPlugins(options);
  const ordered = enabledPlugins(plugins, new Set(disabled));
  for (const plugin of ordered) if (plugin.errors) registerPluginErrors(plugin.name, plugin.errors);
  return ordered;
}

export async function openHost(options: OpenHostOptions = {}): Promise<NsboxHost> {
  const { stateDir, config, plugins: installed, disabled } = await installedPlugins(options);
  const store = new SqliteStore({ stateDir, ...(options.clock ? { clock: options.clock } : {}) });
  const events = new EventBus(store, options.clock);
  const driver = typeof options.driver === 'function' ? await options.driver(stateDir) : options.driver;

  // Core services are bound before the plugins load, so plugin classes can inject them.
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(CoreTokens.BoxRepository).toConstantValue(store);
  container.bind(CoreTokens.HistoryRepository).toConstantValue(store);
  container.bind(CoreTokens.OperationJournal).toConstantValue(store);
  container.bind(CoreTokens.EventBus).toConstantValue(events);
  container.bind(CoreTokens.PluginState).toConstantValue(store.pluginState);
  const pluginDatabases = new SqlitePluginDatabases(join(stateDir, 'plugins'));
  container.bind(coreRefs.pluginDatabases.token).toConstantValue(pluginDatabases);
  if (driver) container.bind(CoreTokens.BoxDriver).toConstantValue(driver);
  // What the driver offers plugins, under the runtime-api refs (plugins cannot rebind them).
  const provisions = driver?.provisions?.({ pluginState: store.pluginState }) ?? [];
  for (const provision of provisions) container.bind(provision.ref.token).toConstantValue(provision.value);

  let plugins: PluginHost;
  try {
    plugins = await PluginHost.create({
      plugins: installed,
      disabled,
      container,
      settings: config.settings,
      protectedRefs: [...provisions.map((provision) => provision.ref), coreRefs.pluginDatabases],
      dataRoot: join(stateDir, 'plugins'),
    });
  } catch (error) {
    pluginDatabases.close();
    store.close();
    throw error;
  }
  const manager = new BoxManager({
    host: plugins,
    boxes: store,
    history: store,
    journal: store,
    events,
    ...(driver ? { driver } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  container.bind(CoreTokens.BoxManager).toConstantValue(manager);

  const close = () => {
    pluginDatabases.close();
    store.close();
  };
  return { stateDir, config, store, plugins, events, manager, driver, close };
}
