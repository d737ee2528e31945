export { boxDetails } from './box-details.js';
export { type HostConfig, hostConfigSchema, loadHostConfig } from './host-config.js';
export { defaultPluginPaths, type NsboxHost, type OpenHostOptions, openHost } from './open-host.js';
