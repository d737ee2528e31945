export { dnsNameProblem } from '@nsbox/core';
export { type KernelIdentity, type VirtualisationConfig, virtualisationConfigSchema } from './config-schema.js';
export { renameInHosts } from './identity/hosts-file.js';
export { notifyRulesFor } from './notify-rules.js';
export { virtualisationPlugin } from './virtualisation-plugin.js';
