/** The plugin's bindings (no logic here). */

import { ContainerModule, coreRefs } from '@nsbox/core';
import { type IsolationHostSettings, isolationHostSettings } from './host-settings.js';
import { IsolationInfo } from './isolation-info.js';
import { IsolationTokens } from './tokens.js';
import { defaultPoolFiles, type IdPoolFiles, UidAllocator } from './uid-allocator.js';

export const isolationModule = new ContainerModule(({ bind, isBound }) => {
  // An embedding host may bind other pool files before the plugin loads (tests do).
  if (!isBound(IsolationTokens.PoolFiles)) bind(IsolationTokens.PoolFiles).toConstantValue(defaultPoolFiles);
  if (!isBound(IsolationTokens.HostSettings)) {
    bind(IsolationTokens.HostSettings)
      .toDynamicValue((context) => isolationHostSettings(context.get(coreRefs.hostSettings.token, { optional: true })))
      .inSingletonScope();
  }
  bind(IsolationTokens.UidAllocator)
    .toDynamicValue(
      (context) =>
        new UidAllocator(context.get(coreRefs.pluginState.token), context.get<IdPoolFiles>(IsolationTokens.PoolFiles), {
          cooldownMs: context.get<IsolationHostSettings>(IsolationTokens.HostSettings).rangeCooldownSeconds * 1000,
        }),
    )
    .inSingletonScope();
  bind(IsolationTokens.BoxInfo).to(IsolationInfo).inSingletonScope();
});
