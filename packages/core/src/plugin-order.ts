/** Checks plugin metadata against each other and the core, and orders them by dependency. */

// The three functions alone: semver's index loads all of it, building its range classes at load.
import satisfies from 'semver/functions/satisfies.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import { NsboxError } from './errors.js';
import type { AnyPlugin } from './plugin.js';

const PLUGIN_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Top-level keys of a box config that belong to the core, so no plugin may take them. */
export const reservedSectionNames = ['rootfs', 'template', 'process', 'hostname', 'plugins', 'annotations', 'name', 'owner'];

export function checkPlugins(plugins: readonly AnyPlugin[], coreApiVersion: string): void {
  const byName = new Map<string, AnyPlugin>();
  for (const plugin of plugins) {
    if (!PLUGIN_NAME.test(plugin.name) || reservedSectionNames.includes(plugin.name)) {
      throw new NsboxError('E_PLUGIN_INVALID', `plugin name '${plugin.name}' must be kebab-case and not one of ${reservedSectionNames.join(', ')}`, {
        details: { plugin: plugin.name },
      });
    }
    if (!valid(plugin.version)) {
      throw new NsboxError('E_PLUGIN_INVALID', `plugin '${plugin.name}' has an invalid version '${plugin.version}'`, { details: { plugin: plugin.name } });
    }
    if (byName.has(plugin.name)) {
      throw new NsboxError('E_PLUGIN_INVALID', `plugin '${plugin.name}' is installed twice`, { details: { plugin: plugin.name } });
    }
    byName.set(plugin.name, plugin);
  }
  for (const plugin of plugins) {
    if (!validRange(plugin.core) || !satisfies(coreApiVersion, plugin.core)) {
      throw new NsboxError('E_PLUGIN_VERSION', `plugin '${plugin.name}' ${plugin.version} needs core ${plugin.core}, but this core is ${coreApiVersion}`, {
        details: { plugin: plugin.name, needs: plugin.core, core: coreApiVersion },
      });
    }
    for (const [dependency, range] of Object.entries(plugin.requires)) {
      const found = byName.get(dependency);
      if (!found) {
        throw new NsboxError(
          'E_PLUGIN_DEPENDENCY',
          `plugin '${plugin.name}' requires plugin '${dependency}' (${range}), which is not installed or is disabled`,
          {
            details: { plugin: plugin.name, requires: dependency, range },
          },
        );
      }
      if (!satisfies(found.version, range)) {
        throw new NsboxError('E_PLUGIN_VERSION', `plugin '${plugin.name}' requires plugin '${dependency}' ${range}, but '${dependency}' is ${found.version}`, {
          details: { plugin: plugin.name, requires: dependency, range, found: found.version },
        });
      }
    }
  }
}

/**
 * Dependencies first; ties keep the given order so the result is stable. A cycle is refused
 * with the plugins on it named in order.
 */
export function orderPlugins<T extends Pick<AnyPlugin, 'name' | 'requires'>>(plugins: readonly T[]): T[] {
  const byName = new Map(plugins.map((plugin) => [plugin.name, plugin]));
  const ordered: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];

  const visit = (plugin: T): void => {
    const mark = state.get(plugin.name);
    if (mark === 'done') return;
    if (mark === 'visiting') {
      const cycle = [...path.slice(path.indexOf(plugin.name)), plugin.name];
      throw new NsboxError('E_PLUGIN_CYCLE', `plugin dependency cycle: ${cycle.join(' -> ')}`, { details: { cycle } });
    }
    state.set(plugin.name, 'visiting');
    path.push(plugin.name);
    for (const dependency of Object.keys(plugin.requires)) {
      const found = byName.get(dependency);
      if (found) visit(found);
    }
    path.pop();
    state.set(plugin.name, 'done');
    ordered.push(plugin);
  };

  for (const plugin of plugins) visit(plugin);
  return ordered;
}
