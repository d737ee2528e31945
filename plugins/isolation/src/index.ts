import { boxInfoPoint, contribute, definePlugin } from '@nsbox/core';
import packageJson from '../package.json' with { type: 'json' };
import { isolationConfigSchema } from './config-schema.js';
import { IsolationHooks } from './isolation-hooks.js';
import type { IsolationInfo } from './isolation-info.js';
import { isolationModule } from './isolation-module.js';
import { rangesAction } from './ranges-action.js';
import { isolationTenantSafe } from './tenant-safe.js';
import { IsolationTokens } from './tokens.js';

export const isolationPlugin = definePlugin({
  name: 'isolation',
  version: packageJson.version,
  description: 'user namespaces with a uid range per box, idmapped rootfs, seccomp, capabilities, device allowlist, bind mounts',
  core: '^1.0.0',
  config: isolationConfigSchema,
  tenantSafe: isolationTenantSafe,
  module: isolationModule,
  publishes: { uidAllocator: IsolationTokens.UidAllocator, boxInfo: IsolationTokens.BoxInfo },
  hooks: IsolationHooks,
  actions: [rangesAction],
  setup: ({ own }) => {
    const info = own<IsolationInfo>(IsolationTokens.BoxInfo);
    return { contributions: [contribute(boxInfoPoint, { section: 'isolation', describe: (box) => info.describe(box) })] };
  },
});

export { allCapabilities, defaultCapabilities } from './capabilities.js';
export { type BindMountConfig, type DeviceConfig, defaultIsolationConfig, type IsolationConfig, isolationConfigSchema } from './config-schema.js';
export { type DeviceRule, defaultDeviceRules } from './devices.js';
export { DEFAULT_POOL_START, RANGE_SIZE } from './id-pool.js';
export { defaultSeccompProfile } from './seccomp-profile.js';
export { IsolationTokens, isolationRefs } from './tokens.js';
export { type BoxIdRanges, type IdPoolFiles, UidAllocator } from './uid-allocator.js';
