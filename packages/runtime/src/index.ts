export { boxEnvironment, buildBaseSpec, DEFAULT_PATH, defaultMaskedPaths, defaultMounts, defaultReadonlyPaths } from './base-spec.js';
export { type BoxExit, BoxFiles, exitStatus } from './box-files.js';
export { allCapabilities, defaultCapabilities } from './capabilities.js';
export * from './cgroup/index.js';
export { attachConsole, CONSOLE_SOCKET_FILE } from './console-attach.js';
export {
  assertRunning,
  type BoxProcess,
  type ExecOptions,
  type ExecResult,
  execEnvironment,
  execInBox,
  type JoinOptions,
  spawnInBox,
} from './exec.js';
export { EXIT_FILE, ExitWatch, type ExitWatchOptions } from './exit-watch.js';
export { type FollowOptions, followLog } from './follow-log.js';
export { releaseInit } from './held-init.js';
export { execFailureError, type LauncherFailure, launcherFailure } from './launcher-verdict.js';
export { LinuxBoxDriver, type LinuxDriverOptions, type LinuxRuntimeFacts } from './linux-driver.js';
export { encodeProgram, type LaunchOp, launcherPath, MountBelowError, removeTree, removeTreeSync } from './native-exports.js';
export { identify, isSameProcess, isZombie, type ProcessIdentity, processStartTime, waitUntil } from './process-identity.js';
export { launchShim, type ShimReady } from './shim-launch.js';
export {
  type CompileContext,
  compileCreateProgram,
  compileJoinProgram,
  defaultDevices,
  type JoinRequest,
  recursiveMountAttributes,
} from './spec-compiler.js';
export * from './templates/index.js';
