export { HOST_PLUGIN_SETTINGS, type HostConfig, hostConfigSchema, loadHostConfig } from './host-config.js';
export { defaultPluginPaths, type NsboxHost, type OpenHostOptions, openHost } from './open-host.js';
