/**
 * What the faces (nsboxd, nsbox-runc) need of the native layer, offered by the runtime so
 * that no face imports `@nsbox/native` itself: the runtime stays the one place that knows
 * the addon, its binaries and the launcher's program format.
 *
 * - `removeTree`/`removeTreeSync`: deletes that never cross a mount or follow a symlink
 *   (a `MountBelowError` names what was left mounted).
 * - `encodeProgram`, `launcherPath`, `LaunchOp`: the launcher's program, for nsbox-runc's
 *   create and exec, which run the launcher under their caller as runc's contract wants.
 */
export { encodeProgram, type LaunchOp, launcherPath, MountBelowError, removeTree, removeTreeSync } from '@nsbox/native';
