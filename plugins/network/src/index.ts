export { networkActions, type PoolView } from './actions.js';
export { hostLinkName } from './box-wiring.js';
export { type NetworkConfig, type NetworkMode, networkConfigSchema } from './config-schema.js';
export { listNatRules, listRules, NAT_TABLE, removeNat } from './nat.js';
export { networkPlugin } from './network-plugin.js';
export { type NetworkSettings, networkSettingsSchema } from './settings.js';
