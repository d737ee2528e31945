export { type KernelIdentity, type VirtualisationConfig, virtualisationConfigSchema } from './config-schema.js';
export { hostnameAction } from './hostname-action.js';
export { notifyRulesFor } from './notify-rules.js';
export { virtualisationPlugin } from './virtualisation-plugin.js';
