export { BUSYBOX, type BusyboxRootfsOptions, buildBusyboxRootfs, busyboxAvailable, chownTree } from '@nsbox/runtime';
export { Cleanup, type CleanupAction, useCleanup } from './cleanup.js';
export { type CliCommands, type CliHostOptions, cliCommands, makeCliHost } from './cli-host.js';
export { type CliRunOptions, type CliRunResult, cliArgs, repoRoot, runNsbox, runNsboxAsync } from './cli-runner.js';
export { type HostSnapshot, snapshotHost, TEST_NETNS_PREFIX } from './host-snapshot.js';
export { memoryPluginState } from './memory-state.js';
export { requireRoot } from './require-root.js';
export { removeCgroupsAfter } from './test-cgroups.js';
export { createTestHost, makeTempDir, TEST_PREFIX, type TestHostOptions } from './test-host.js';
