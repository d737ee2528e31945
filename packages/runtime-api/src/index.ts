export { type BoxFilesService, type RuntimeFacts, runtimeFacts } from './box-files.js';
export type { BoxCgroup, CgroupDriver, CgroupLayout, CgroupLayoutKind, KillOptions } from './cgroups.js';
export { contributeLaunch, LAUNCH_ANNOTATION, type LaunchContributions, launchContributions } from './launch.js';
export { allCapabilities, defaultCapabilities, defaultMaskedPaths, defaultReadonlyPaths } from './policy-lists.js';
export { runtimeRefs } from './refs.js';
