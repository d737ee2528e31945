/** Typed refs of what every face binds for plugins. */

import type { BoxManager } from './box-manager.js';
import type { PluginDatabases, PluginStateStore } from './ports.js';
import { createServiceRef, type ServiceRef } from './service-ref.js';
import { CoreTokens } from './tokens.js';

export const coreRefs = {
  /** host.json's `settings`: plugin name → that plugin's section (a plugin with `hostSettings` gets its own, validated, in `setup`). */
  hostSettings: createServiceRef<Record<string, unknown>>({ id: 'core.host-settings' }),
  /** Small persistent state of plugins, shared by every process of the host. */
  pluginState: createServiceRef<PluginStateStore>({ id: 'core.plugin-state' }),
  /** A plugin's own SQLite database in its data dir (time series, anything beyond key/value). */
  pluginDatabases: createServiceRef<PluginDatabases>({ id: 'core.plugin-databases' }),
  /**
   * The lifecycle operations (checkpoint, restore...) for an action of a plugin that drives
   * one: the face's own BoxManager binding, which nsboxd scopes to the caller's tenant.
   */
  boxManager: Object.freeze({ id: 'core.box-manager', token: CoreTokens.BoxManager }) as ServiceRef<BoxManager>,
} as const;
