/**
 * findPluginPackages' answer kept in a file, so that a command does not read every
 * package.json of every node_modules folder (some 600 in a checkout) each time it starts.
 * The answer holds while no package was added to or removed from those folders (their
 * mtimes and their @scope folders' mtimes, as npm adds, replaces and removes package
 * folders) and no plugin's package.json changed (its mtime). The key is the folder list and
 * the conditions entries resolve with (a source checkout run through tsx finds other files).
 * A package whose package.json is edited in place to become a plugin is seen once its
 * folder is reinstalled, or the cache file is removed.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeConditions, type DiscoveredPackage, findPluginPackages } from './discovery.js';

interface RootSnapshot {
  path: string;
  /** null: the folder did not exist. */
  mtimeMs: number | null;
  scopes: Record<string, number | null>;
}

interface CacheFile {
  version: 1;
  roots: RootSnapshot[];
  packages: (DiscoveredPackage & { manifestMtimeMs: number | null })[];
}

function mtimeOf(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function snapshotRoot(path: string): RootSnapshot {
  const mtimeMs = mtimeOf(path);
  const scopes: Record<string, number | null> = {};
  if (mtimeMs !== null) {
    for (const entry of readdirSync(path)) if (entry.startsWith('@')) scopes[entry] = mtimeOf(join(path, entry));
  }
  return { path, mtimeMs, scopes };
}

function isFresh(cache: CacheFile): boolean {
  for (const root of cache.roots) {
    if (mtimeOf(root.path) !== root.mtimeMs) return false;
    for (const [scope, mtimeMs] of Object.entries(root.scopes)) if (mtimeOf(join(root.path, scope)) !== mtimeMs) return false;
  }
  return cache.packages.every((pkg) => mtimeOf(join(pkg.directory, 'package.json')) === pkg.manifestMtimeMs);
}

function readCache(file: string): CacheFile | undefined {
  try {
    const cache = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    return cache.version === 1 && Array.isArray(cache.roots) && Array.isArray(cache.packages) ? cache : undefined;
  } catch {
    return undefined; // none yet, or unreadable: scan
  }
}

/** The cache file for these folders under `cacheDir`. */
export function discoveryCacheFile(cacheDir: string, nodeModulesDirs: readonly string[]): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ dirs: nodeModulesDirs, conditions: activeConditions() }))
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `plugin-packages-${key}.json`);
}

/** findPluginPackages through the cache in `cacheDir`; a cache that cannot be written is skipped. */
export function findPluginPackagesCached(nodeModulesDirs: readonly string[], cacheDir: string): DiscoveredPackage[] {
  const file = discoveryCacheFile(cacheDir, nodeModulesDirs);
  const cached = readCache(file);
  if (cached && isFresh(cached)) return cached.packages.map(({ manifestMtimeMs: _mtime, ...pkg }) => pkg);
  // The folders are read before they are scanned: a package added meanwhile makes the next check miss.
  const roots = nodeModulesDirs.map(snapshotRoot);
  const packages = findPluginPackages(nodeModulesDirs);
  const cache: CacheFile = {
    version: 1,
    roots,
    packages: packages.map((pkg) => ({ ...pkg, manifestMtimeMs: mtimeOf(join(pkg.directory, 'package.json')) })),
  };
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(cache));
    renameSync(temporary, file);
  } catch {
    // A read-only state directory: discovery still works, uncached.
  }
  return packages;
}
