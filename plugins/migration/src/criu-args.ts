/**
 * criu's command lines for a box, from what the checkpoint recorded: pure functions, so the
 * options a box needs are tested without a kernel.
 */

import type { OciSpec } from '@nsbox/core';

/** What a checkpoint records beside criu's images (`nsbox-checkpoint.json`). */
export interface CheckpointManifest {
  format: 1;
  box: { id: string; name: string };
  criu: string;
  at: number;
  leaveRunning: boolean;
  /**
   * The init's stdio as criu saw it: `pipe:[INODE]` of the shim's pipes. On restore the new
   * shim's pipes are handed in their place (`--inherit-fd`), or the box would write into a
   * pipe nobody reads.
   */
  stdio: { stdin?: string; stdout?: string; stderr?: string };
  /**
   * The init's stdio that is a file of a mount the box does not have (a runc caller's
   * `/dev/null`, opened on the host by conmon): criu's external files (`file[MNT:INODE]`,
   * hex), given back on restore as the new caller's fd of the same number.
   */
  externalStdio?: { fd: 0 | 1 | 2; key: string }[];
  /**
   * The box's terminal (a pty whose master its shim holds, outside the tree): criu's external
   * tty (`tty[RDEV:DEV]`, hex), given back on restore as the new shim's pty, the launcher's stdin.
   */
  externalTty?: string;
  /**
   * The directories below the box's cgroup2 directory at the dump (a systemd box's slices),
   * relative. criu makes again only those that held tasks; an empty one a process watches
   * (systemd's inotify on `cgroup.events`) is made before it runs.
   */
  cgroupDirs?: string[];
  /** Host paths bound into the box: destination → host source (criu's external mounts). */
  externalMounts: { destination: string; source: string }[];
  tcpEstablished: boolean;
  /**
   * The box's network namespace was left out of the images (`--external net[INODE]`): its
   * links were wired by a plugin from the host (the network plugin's veth), and a restore
   * joins a namespace the plugins wire again, with the same addresses.
   */
  externalNetns?: { inode: number };
  /**
   * Post-copy: the dump left the box's anonymous memory out of the images (`--lazy-pages`); it
   * is served by that dump's page server, which a restore must pull from (`criu lazy-pages`).
   * Such images cannot be restored without it.
   */
  lazyPages?: boolean;
  /** Where that dump serves it (the source's address and port). */
  pageServer?: PageServer;
}

/** Where a post-copy dump serves the memory it left out of its images (criu's page server). */
export interface PageServer {
  address: string;
  port: number;
}

/** A pty slave's path on the host (the box's console is bound from one). */
const PTY_SLAVE = /^\/dev\/pts\/\d+$/;

/** criu's key for the box's network namespace when it is external. */
export const NETNS_KEY = 'nsbox-netns';

export interface CriuOptions {
  /** Keep established TCP connections (the peer must not see the box's side go away). */
  tcpEstablished?: boolean;
  /** criu's log verbosity, 0–4. */
  verbosity?: number;
  /** Post-copy: the dump serves memory from this address (its status on fd `statusFd`); the restore pulls it (lazy-pages daemon). */
  lazyPages?: PageServer & { statusFd?: number };
}

const MANIFEST = 'nsbox-checkpoint.json';
export const manifestFile = (imageDir: string) => `${imageDir}/${MANIFEST}`;

/** Bind mounts of the spec: their source is the host's, which criu must be told about. */
export function externalMounts(spec: OciSpec): { destination: string; source: string }[] {
  return (spec.mounts ?? [])
    .filter((mount) => (mount.options ?? []).some((option) => option === 'bind' || option === 'rbind') && mount.source?.startsWith('/'))
    .map((mount) => ({ destination: mount.destination, source: mount.source as string }));
}

export function dumpArgs(input: {
  pid: number;
  imageDir: string;
  logFile: string;
  leaveRunning: boolean;
  manifest: Pick<CheckpointManifest, 'externalMounts' | 'externalNetns' | 'externalStdio' | 'externalTty'>;
  freezerCgroup?: string;
  options: CriuOptions;
}): string[] {
  const args = ['dump', '--tree', String(input.pid), '--images-dir', input.imageDir, '--log-file', input.logFile, `-v${input.options.verbosity ?? 2}`];
  // The mount namespace is the box's: host paths bound into it are external, named by their destination.
  for (const mount of input.manifest.externalMounts) args.push('--external', `mnt[${mount.destination}]:${mount.destination}`);
  if (input.manifest.externalNetns) args.push('--external', `net[${input.manifest.externalNetns.inode}]:${NETNS_KEY}`);
  for (const file of input.manifest.externalStdio ?? []) args.push('--external', file.key);
  if (input.manifest.externalTty) args.push('--external', input.manifest.externalTty);
  if (input.leaveRunning) args.push('--leave-running');
  if (input.options.tcpEstablished) args.push('--tcp-established');
  if (input.freezerCgroup) args.push('--freeze-cgroup', input.freezerCgroup);
  const lazy = input.options.lazyPages;
  if (lazy) {
    args.push('--lazy-pages', '--address', lazy.address, '--port', String(lazy.port));
    if (lazy.statusFd !== undefined) args.push('--status-fd', String(lazy.statusFd));
  }
  args.push('--manage-cgroups=soft');
  return args;
}

export function restoreArgs(input: {
  imageDir: string;
  /** criu's own directory (its cgroup yard is mounted there): a path, never the images' fd. */
  workDir: string;
  logFile: string;
  pidFile: string;
  rootfs: string;
  manifest: CheckpointManifest;
  /** The fds (in criu's process) holding the new shim's stdin read end and output write end. */
  stdinFd: number;
  outputFd: number;
  /**
   * The new stderr, when the caller gives one of its own (conmon's pipes for stdout and
   * stderr are two): the old stderr pipe, when it was not the stdout one, is restored onto it.
   */
  errorFd?: number;
  /** The fd (in criu's process) of the network namespace to join, for images with an external one. */
  netnsFd?: number;
  /**
   * Where criu puts the restored tree instead of the path it had where it was dumped (another
   * host's cgroup parent): without a controller, the box's cgroup on this host
   * (`/PARENT/BOX-ID`) for every hierarchy; with one, that hierarchy's own. A hierarchy the
   * runtime leaves alone (name=systemd) keeps the box where this host's processes are: a box
   * at its root there would otherwise make criu copy that whole hierarchy below the new root.
   */
  cgroupRoots?: { controller?: string; path: string }[];
  /**
   * The new terminal's path (the shim's new pty slave): the source of a bind the box had from
   * its old one (`/dev/console`), which is gone.
   */
  terminalPath?: string;
  options: CriuOptions;
}): string[] {
  const { manifest } = input;
  const args = [
    'restore',
    '--restore-detached',
    ...restoreSideDirs(input),
    '--root',
    input.rootfs,
    '--pidfile',
    input.pidFile,
    // The runtime made the box's cgroup and wrote its knobs (the plugins' declarations): criu
    // puts the tasks back into it and leaves the values alone.
    '--manage-cgroups=soft',
    // criu's older mount engine: the newer one (mount-v2) copies sharing groups with
    // MOVE_MOUNT_SET_GROUP, which Debian 12's 6.1 kernel refuses from the box's idmapped root
    // ("Failed to copy sharing from source .../restore-root"; criu#2023 is the same failure).
    '--mntns-compat-mode',
  ];
  if (manifest.stdio.stdin?.startsWith('pipe:')) args.push('--inherit-fd', `fd[${input.stdinFd}]:${manifest.stdio.stdin}`);
  const { stdout, stderr } = manifest.stdio;
  const ownError = input.errorFd !== undefined && stderr !== stdout;
  const outputs = new Set([stdout, ownError ? undefined : stderr].filter((file): file is string => file?.startsWith('pipe:') === true));
  for (const output of outputs) args.push('--inherit-fd', `fd[${input.outputFd}]:${output}`);
  if (ownError && stderr?.startsWith('pipe:')) args.push('--inherit-fd', `fd[${input.errorFd}]:${stderr}`);
  const newStdio = [input.stdinFd, input.outputFd, input.errorFd ?? input.outputFd];
  for (const file of manifest.externalStdio ?? []) args.push('--inherit-fd', `fd[${newStdio[file.fd]}]:${file.key}`);
  if (manifest.externalTty) args.push('--inherit-fd', `fd[${input.stdinFd}]:${manifest.externalTty}`);
  for (const mount of manifest.externalMounts) {
    const source = input.terminalPath && PTY_SLAVE.test(mount.source) ? input.terminalPath : mount.source;
    args.push('--external', `mnt[${mount.destination}]:${source}`);
  }
  if (manifest.externalNetns && input.netnsFd !== undefined) args.push('--inherit-fd', `fd[${input.netnsFd}]:${NETNS_KEY}`);
  if (manifest.tcpEstablished) args.push('--tcp-established');
  // The memory left out comes from the lazy-pages daemon (lazyPagesArgs), by the work dir's socket.
  if (manifest.lazyPages) args.push('--lazy-pages');
  for (const root of input.cgroupRoots ?? []) args.push('--cgroup-root', root.controller ? `${root.controller}:${root.path}` : root.path);
  return args;
}

/**
 * The target's daemon of a post-copy restore: it takes the restored tasks' userfaultfds from
 * `criu restore --lazy-pages` (a socket in the shared work dir), pulls each missing page from
 * the source's page server when a task touches it and every other one in the background, and
 * exits once it has them all.
 */
export function lazyPagesArgs(input: { imageDir: string; workDir: string; logFile: string; server: PageServer; options: CriuOptions }): string[] {
  return ['lazy-pages', '--page-server', '--address', input.server.address, '--port', String(input.server.port), ...restoreSideDirs(input)];
}

/** The images, the work dir (the restore and its lazy-pages daemon meet by a socket there) and the log of a restore-side criu call. */
function restoreSideDirs(input: { imageDir: string; workDir: string; logFile: string; options: CriuOptions }): string[] {
  return ['--images-dir', input.imageDir, '--work-dir', input.workDir, '--log-file', input.logFile, `-v${input.options.verbosity ?? 2}`];
}

/** A word for a POSIX shell, quoted. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
