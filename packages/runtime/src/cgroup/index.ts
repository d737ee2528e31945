export type { BoxCgroup, CgroupDriver, KillOptions } from './cgroup-driver.js';
export { type CgroupDriverOptions, type CgroupManagerKind, createCgroupDriver, DEFAULT_CGROUP_PARENT } from './create-driver.js';
export { HybridDriver } from './hybrid-driver.js';
export { type CgroupLayout, type CgroupLayoutKind, type DetectOptions, detectCgroupLayout } from './layout.js';
export { busctlAvailable, busctlCall, systemdIsInit } from './systemd-bus.js';
export { SystemdDriver } from './systemd-driver.js';
export { type BoxUnits, boxUnits, prefixedScopeUnits, sliceChain } from './systemd-units.js';
export { V1_CONTROLLERS, V1Driver } from './v1-driver.js';
export { V2Driver } from './v2-driver.js';
