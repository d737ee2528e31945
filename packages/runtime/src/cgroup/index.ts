export type { BoxCgroup, CgroupDriver, KillOptions } from './cgroup-driver.js';
export { type CgroupDriverOptions, createCgroupDriver, DEFAULT_CGROUP_PARENT } from './create-driver.js';
export { HybridDriver } from './hybrid-driver.js';
export { type CgroupLayout, type CgroupLayoutKind, type DetectOptions, detectCgroupLayout } from './layout.js';
export { V1_CONTROLLERS, V1Driver } from './v1-driver.js';
export { V2Driver } from './v2-driver.js';
