export { type ActionScope, actionInfos, allActions, type FoundAction, findAction, interruptedAction, invokeAction } from './actions.js';
export { boxDetails } from './box-details.js';
export { type BoxIo, chunkStream } from './box-io.js';
export { type HostConfig, hostConfigSchema, loadHostConfig } from './host-config.js';
export { LocalBoxApi, listedBox } from './local-box-api.js';
export { defaultPluginPaths, type FindPluginsOptions, findPlugins, type NsboxHost, type OpenHostOptions, openHost } from './open-host.js';
export { type SetScope, setBox, setOptionsFor } from './set-box.js';
export { signalNumber } from './signals.js';
