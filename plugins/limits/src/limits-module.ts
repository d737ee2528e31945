/** The plugin's bindings. */

import { ContainerModule, coreRefs } from '@nsbox/core';
import { CgroupLimits } from './cgroup-limits.js';
import { DiskLimits } from './disk/disk-limits.js';
import { Pools } from './disk/pools.js';
import { HostFacts } from './host-facts.js';
import { limitsHostSettings } from './host-settings.js';
import { LimitEvents } from './limit-events.js';
import { LimitsService } from './limits-service.js';
import { LimitsTokens } from './tokens.js';

export const limitsModule = new ContainerModule((options) => {
  // An embedding host may bind its own settings before the plugin loads.
  if (!options.isBound(LimitsTokens.HostSettings)) {
    options
      .bind(LimitsTokens.HostSettings)
      .toDynamicValue((context) => limitsHostSettings(context.get(coreRefs.hostSettings.token, { optional: true })))
      .inSingletonScope();
  }
  options.bind(HostFacts).toSelf().inSingletonScope();
  options.bind(CgroupLimits).toSelf().inSingletonScope();
  options.bind(Pools).toSelf().inSingletonScope();
  options.bind(DiskLimits).toSelf().inSingletonScope();
  options.bind(LimitEvents).toSelf().inSingletonScope();
  options.bind(LimitsService).toSelf().inSingletonScope();
  options.bind(LimitsTokens.Service).toService(LimitsService);
  options.bind(LimitsTokens.Pools).toService(Pools);
});
