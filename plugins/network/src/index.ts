export { networkActions, type PoolView } from './actions.js';
export { type NetworkConfig, type NetworkMode, networkConfigSchema } from './config-schema.js';
export { hostIdOf, hostLinkName, ifbName, isHostLinkName, legacyHostLinkName } from './link-names.js';
export { listNatRules, listRules, NAT_TABLE, removeNat } from './nat.js';
export { networkPlugin } from './network-plugin.js';
export { type NetworkSettings, networkSettingsSchema } from './settings.js';
