/** The limits plugin: hard caps on CPU, memory, processes, IO, rlimits and disk, changed live. */

import { boxInfoPoint, contribute, definePlugin, hostPoolPoint, quotaClaimPoint, setOptionPoint } from '@nsbox/core';
import { limitsActions } from './actions/index.js';
import { limitsSetPart } from './actions/set-part.js';
import { limitsConfigSchema } from './config-schema.js';
import { Pools } from './disk/pools.js';
import { LimitsHooks } from './limits-hooks.js';
import { limitsModule } from './limits-module.js';
import { LimitsService } from './limits-service.js';
import { limitsQuotaClaims } from './quota-claims.js';
import { limitsTenantSafe } from './tenant-safe.js';
import { LimitsTokens } from './tokens.js';
import { version } from './version.js';

export const limitsPlugin = definePlugin({
  name: 'limits',
  version,
  description: 'hard caps on CPU, memory, processes, IO, rlimits and disk space, changed live',
  core: '^1.0.0',
  config: limitsConfigSchema,
  tenantSafe: limitsTenantSafe,
  module: limitsModule,
  hooks: LimitsHooks,
  publishes: { limits: LimitsTokens.Service, pools: LimitsTokens.Pools },
  actions: limitsActions,
  setup: ({ own }) => {
    const service = own<LimitsService>(LimitsService);
    const pools = own<Pools>(Pools);
    return {
      contributions: [
        contribute(boxInfoPoint, { section: 'limits', describe: (box) => service.describe(box) }),
        contribute(hostPoolPoint, { plugin: 'limits', list: () => pools.list().map((pool) => ({ ...pool })) }),
        contribute(quotaClaimPoint, limitsQuotaClaims),
        // `nsbox set NAME --cpus 1.5 --memory 512M ...`
        contribute(setOptionPoint, limitsSetPart(service)),
      ],
    };
  },
});
