import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { isNetlinkError, listLinks, type NetLink, type NetlinkError, type NetlinkOp, netlink, setNetSysctl } from './netlink.js';
export { isNftError, type NftError, nft, nftJson } from './nftables.js';
export { encodeProgram, type LaunchOp } from './program.js';

/** Root of this package, whether running from lib/ (source) or dist/ (built). */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const releaseDir = join(packageRoot, 'build', 'Release');

export const launcherPath = join(releaseDir, 'nsbox-launcher');
export const shimPath = join(releaseDir, 'nsbox-shim');
/** The per-box seccomp-notify helper the shim starts (and restarts). */
export const notifyPath = join(releaseDir, 'nsbox-notify');
/** The per-box /proc views server the shim starts (and restarts) on the box's FUSE connection. */
export const procViewPath = join(releaseDir, 'nsbox-proc-view');
/** Runs a program where a path shows the box's root idmapped as the launcher made it (a restore's criu). */
export const idmapRootPath = join(releaseDir, 'nsbox-idmap-root');

export interface StatfsResult {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

/** The N-API addon's functions (native/PROTOCOL.md §4). */
export interface NativeAddon {
  pidfdOpen(pid: number): number;
  pidfdSendSignal(fd: number, signal: number): void;
  close(fd: number): void;
  processAlive(pid: number): boolean;
  statfs(path: string): StatfsResult;
  nsInode(pid: number, name: string): string;
  /** Sets the host name (and the domain name, when given) in the UTS namespace of the process behind a pidfd. */
  setUtsNames(pidfd: number, hostname: string, domainname?: string | null): void;
  umount(path: string, flags: number): void;
  isMountpoint(path: string): boolean;
  /** A close-on-exec pipe: [read end, write end]. */
  pipe(): [number, number];
  /**
   * Starts a program in a new session with posix_spawn (vfork: no copy of Node's memory);
   * fds[i] becomes the child's fd i (-1: /dev/null). Returns its pid; nobody waits for it.
   */
  spawnDetached(path: string, argv: string[], fds: number[]): number;
  /** Collects an exited child of spawnDetached (no zombie left); true once it is gone. */
  reap(pid: number): boolean;
  /** The walk of {@link removeTree} on a worker thread; resolves to the mount points left in place. */
  removeTree(path: string | Buffer): Promise<string[]>;
  /** The same walk on the calling thread. */
  removeTreeSync(path: string | Buffer): string[];
  /** The names of a file's extended attributes (llistxattr: a symlink's own, never followed). */
  listXattrs(path: string): string[];
  /** rtnetlink steps in a namespace (`''`: the caller's); see netlink.ts for the typed form. */
  netlink(netns: string, ops: string[][]): unknown[];
  netlinkSysctl(netns: string, key: string, value: string): void;
  /** An nft batch (text, or JSON in and out) in a namespace (`''`: the caller's); see nftables.ts. */
  nft(netns: string, commands: string, json: boolean): string;
  /**
   * Replaces `root`/`path` with `content` without following a symlink: the directories are
   * resolved beneath the root with none followed, the file is renamed over the old name.
   */
  writeFileInRoot(root: string, path: string, content: string | Buffer, mode: number): void;
  /**
   * Reads `root`/`path` (at most `maxBytes`; a larger file throws EFBIG) resolved as
   * writeFileInRoot resolves it, the file itself not followed either: only a regular file is
   * opened. Null when it is missing.
   */
  readFileInRoot(root: string, path: string, maxBytes: number): Buffer | null;
  /**
   * Attaches at `target` an idmapped clone of the mount at `source` (not recursive), its idmap
   * a user namespace with `uidMap`/`gidMap` (uid_map lines): a layered box's overlay is built on
   * such mounts of its layers (overlayfs cannot be idmapped itself; its layers can).
   */
  idmapBind(source: string, target: string, uidMap: string, gidMap: string): void;
  /**
   * A syscall's name from its number on an architecture given as its AUDIT_ARCH_* value (what
   * the kernel's audit records say: `arch=c000003e syscall=250` is keyctl); undefined when
   * libseccomp has no name for it.
   */
  syscallName(auditArch: number, nr: number): string | undefined;
}

let addon: NativeAddon | undefined;

/** Loads the addon lazily so that packages that only need paths do not require a build. */
export function native(): NativeAddon {
  if (!addon) {
    const addonPath = join(releaseDir, 'nsbox_native.node');
    if (!existsSync(addonPath)) {
      throw new Error(`nsbox native addon is not built (${addonPath}); run npm run setup`);
    }
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  }
  return addon;
}

export const MNT_DETACH = 2;

/** A tree was removed except for what is mounted below it: another mount is never entered. */
export class MountBelowError extends Error {
  readonly code = 'EBUSY';
  constructor(
    readonly path: string,
    readonly mounts: string[],
  ) {
    super(
      `not removing all of ${path}: ${mounts.join(', ')} ${mounts.length === 1 ? 'is a mount' : 'are mounts'} below it, which a delete never enters (unmount, then remove again)`,
    );
    this.name = 'MountBelowError';
  }
}

/**
 * The project's one recursive delete: removes `path` and everything below it that lives on
 * the same mount. A symlink is removed itself, never followed (at the root too); a directory
 * or file on another mount is left untouched, with the directories leading to it, and the
 * call then rejects with a {@link MountBelowError} naming every such mount — after removing
 * all the rest. `path` that is itself a mount point is emptied and stays (the caller's mount);
 * a missing `path` is nothing to do. Runs on a worker thread.
 */
export async function removeTree(path: string | Buffer): Promise<void> {
  const mounts = await native().removeTree(path);
  if (mounts.length > 0) throw new MountBelowError(String(path), mounts);
}

/** {@link removeTree} on the calling thread, for small trees and synchronous callers. */
export function removeTreeSync(path: string | Buffer): void {
  const mounts = native().removeTreeSync(path);
  if (mounts.length > 0) throw new MountBelowError(String(path), mounts);
}
