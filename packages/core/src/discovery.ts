/**
 * Finds installed packages that declare themselves nsbox plugins in their package.json:
 *   "nsbox": { "plugin": true }           the package's main export holds the definition
 *   "nsbox": { "plugin": "./dist/x.js" }  that file does
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPluginPackagesCached } from './discovery-cache.js';
import { importModule } from './dynamic-import.js';
import { NsboxError } from './errors.js';
import { type AnyPlugin, isPluginDefinition } from './plugin.js';

export interface DiscoveredPackage {
  packageName: string;
  directory: string;
  entry: string;
}

/**
 * The manifest of a package that may be a plugin. Every command scans whole node_modules
 * folders: a manifest that does not even mention "nsbox" is not parsed.
 */
function readManifest(directory: string): Record<string, unknown> | undefined {
  try {
    const text = readFileSync(join(directory, 'package.json'), 'utf8');
    return text.includes('"nsbox"') ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // no manifest (a plain folder) or not JSON
  }
}

function entryOf(directory: string, manifest: Record<string, unknown>): string | undefined {
  const marker = (manifest.nsbox as { plugin?: unknown } | undefined)?.plugin;
  if (marker === undefined || marker === false) return undefined;
  if (typeof marker === 'string') return resolve(directory, marker);
  const exported = manifest.exports as Record<string, unknown> | string | undefined;
  const dot = typeof exported === 'string' ? exported : (exported?.['.'] as Record<string, string> | string | undefined);
  if (typeof dot === 'string') return resolve(directory, dot);
  // The same conditions Node resolves with, so a plugin loads the same copy of @nsbox/core
  // as the host (a source checkout run through tsx uses `source`).
  const condition = [...activeConditions(), 'import', 'default'].find((name) => typeof dot?.[name] === 'string');
  const target = condition ? dot?.[condition] : undefined;
  return resolve(directory, target ?? (manifest.main as string | undefined) ?? 'index.js');
}

export function activeConditions(): string[] {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const conditions: string[] = [];
  for (let index = 0; index < flags.length; index++) {
    const flag = flags[index] as string;
    if (flag.startsWith('--conditions=') || flag.startsWith('-C=')) conditions.push(flag.slice(flag.indexOf('=') + 1));
    else if ((flag === '--conditions' || flag === '-C') && flags[index + 1]) conditions.push(flags[++index] as string);
  }
  return conditions;
}

/** Lists plugin packages in the given node_modules directories (scoped packages included). */
export function findPluginPackages(nodeModulesDirs: readonly string[]): DiscoveredPackage[] {
  const found: DiscoveredPackage[] = [];
  for (const root of nodeModulesDirs) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root)) {
      const candidates = entry.startsWith('@') ? readdirSync(join(root, entry)).map((name) => join(entry, name)) : [entry];
      for (const candidate of candidates) {
        const directory = join(root, candidate);
        const manifest = readManifest(directory);
        const pluginEntry = manifest && entryOf(directory, manifest);
        if (pluginEntry) found.push({ packageName: String(manifest.name ?? candidate), directory, entry: pluginEntry });
      }
    }
  }
  return found;
}

/** Imports a discovered package and returns the plugin definition it exports. */
export async function loadPluginPackage(pkg: DiscoveredPackage): Promise<AnyPlugin> {
  let module: Record<string, unknown>;
  try {
    module = await importModule(pathToFileURL(pkg.entry).href);
  } catch (error) {
    throw new NsboxError('E_PLUGIN_INVALID', `cannot load plugin package '${pkg.packageName}' from ${pkg.entry}: ${(error as Error).message}`, {
      details: { package: pkg.packageName },
      cause: error,
    });
  }
  const definitions = Object.values(module).filter(isPluginDefinition);
  if (definitions.length !== 1) {
    throw new NsboxError('E_PLUGIN_INVALID', `package '${pkg.packageName}' must export exactly one nsbox plugin definition (found ${definitions.length})`, {
      details: { package: pkg.packageName },
    });
  }
  return definitions[0] as AnyPlugin;
}

/** Finds and imports the plugin packages; with `cacheDir`, the scan is kept there (discovery-cache.ts). */
export async function discoverPlugins(nodeModulesDirs: readonly string[], options: { cacheDir?: string } = {}): Promise<AnyPlugin[]> {
  const packages = options.cacheDir ? findPluginPackagesCached(nodeModulesDirs, options.cacheDir) : findPluginPackages(nodeModulesDirs);
  return Promise.all(packages.map(loadPluginPackage));
}
