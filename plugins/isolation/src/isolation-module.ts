/** The plugin's bindings (no logic here). */

import { ContainerModule, CoreTokens, type PluginStateStore } from '@nsbox/core';
import { IsolationInfo } from './isolation-info.js';
import { IsolationTokens } from './tokens.js';
import { defaultPoolFiles, type IdPoolFiles, UidAllocator } from './uid-allocator.js';

export const isolationModule = new ContainerModule(({ bind, isBound }) => {
  // An embedding host may bind other pool files before the plugin loads (tests do).
  if (!isBound(IsolationTokens.PoolFiles)) bind(IsolationTokens.PoolFiles).toConstantValue(defaultPoolFiles);
  bind(IsolationTokens.UidAllocator)
    .toDynamicValue((context) => new UidAllocator(context.get<PluginStateStore>(CoreTokens.PluginState), context.get<IdPoolFiles>(IsolationTokens.PoolFiles)))
    .inSingletonScope();
  bind(IsolationTokens.BoxInfo).to(IsolationInfo).inSingletonScope();
});
