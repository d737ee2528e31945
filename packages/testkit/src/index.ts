export { BUSYBOX, type BusyboxRootfsOptions, buildBusyboxRootfs, busyboxAvailable, chownTree } from './busybox-rootfs.js';
export { Cleanup, type CleanupAction, useCleanup } from './cleanup.js';
export { createTestHost, makeTempDir, TEST_PREFIX, type TestHostOptions } from './test-host.js';
export { requireRoot } from './require-root.js';
