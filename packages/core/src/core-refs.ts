/** Typed refs of what every face binds for plugins. */

import type { PluginDatabases, PluginStateStore } from './ports.js';
import { createServiceRef } from './service-ref.js';

export const coreRefs = {
  /** host.json's `settings`: plugin name → that plugin's section (a plugin with `hostSettings` gets its own, validated, in `setup`). */
  hostSettings: createServiceRef<Record<string, unknown>>({ id: 'core.host-settings' }),
  /** Small persistent state of plugins, shared by every process of the host. */
  pluginState: createServiceRef<PluginStateStore>({ id: 'core.plugin-state' }),
  /** A plugin's own SQLite database in its data dir (time series, anything beyond key/value). */
  pluginDatabases: createServiceRef<PluginDatabases>({ id: 'core.plugin-databases' }),
} as const;
