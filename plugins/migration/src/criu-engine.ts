/**
 * The checkpoint engine the migration plugin installs into the runtime: criu from its private
 * prefix. A dump saves the box's tree with what criu must be told about the box (its host
 * binds, its stdio pipes) in a manifest beside the images; a restore is a launcher for the
 * box's new shim — a shell script that runs `criu restore --restore-detached` with the new
 * shim's pipes in place of the old ones and answers as the launcher does, so the restored
 * init ends up the shim's child (it is the nearest subreaper) and is supervised as any init.
 */

import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { type Box, NsboxError, type OciSpec, type OperationContext } from '@nsbox/core';
import {
  type BoxCgroup,
  type CgroupDriver,
  type CheckpointEngine,
  type CheckpointRequest,
  notifyRules,
  procViews,
  type RestoreLauncher,
  type RestoreNeeds,
  type RestoreRequest,
} from '@nsbox/runtime-api';
import { type CheckpointManifest, dumpArgs, lazyPagesArgs, manifestFile, type PageServer, restoreArgs, shellQuote } from './criu-args.js';
import { type CriuInstall, findCriu } from './criu-install.js';
import { type CriuResult, criuErrors, runCriu, STATUS_FD } from './criu-run.js';
import { hostBinds, parseMountinfo, viewMounts } from './mountinfo.js';
import type { MigrationSettings } from './settings.js';

const RESTORE_SCRIPT = 'criu-restore.sh';
/** How long the restore's criu call took, in ms, written by the restore script. */
export const RESTORE_MS = 'criu-restore.ms';
/** Where the restore launcher keeps the box's new stdio while criu's own goes to /dev/null. */
const STDIN_FD = 5;
const OUTPUT_FD = 6;
/** The box's new stderr (a shim's is its stdout; a runc caller's, conmon's, a pipe of its own). */
const ERROR_FD = 9;
/**
 * The images directory, opened by the script: criu reopens it by path from inside the box's
 * user namespace, where the runtime's 0700 state directories cannot be walked through; the
 * magic link /proc/self/fd/N reaches it without walking them.
 */
const IMAGES_FD = 7;
/** util-linux's: sets the parent-death signal, then execs. */
const SETPRIV = '/usr/bin/setpriv';
/** The network namespace the runtime made and the plugins wired, for images with an external one. */
const NETNS_FD = 8;

/** The restore script's variable holding the new pty's path, and its place in criu's arguments. */
const TERMINAL_VAR = 'NSBOX_TERMINAL';
const TERMINAL_WORD = `\u0000${TERMINAL_VAR}\u0000`;

/** A word of the restore script: quoted, but for the new terminal's path, which the shell expands. */
function scriptWord(word: string): string {
  if (!word.includes(TERMINAL_WORD)) return shellQuote(word);
  const [before = '', after = ''] = word.split(TERMINAL_WORD);
  return `${shellQuote(before)}"$${TERMINAL_VAR}"${shellQuote(after)}`;
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export class CriuEngine implements CheckpointEngine {
  readonly name = 'criu';
  /** The runtime's cgroups (where a restored box's cgroup is), when the driver has them. */
  private cgroups: CgroupDriver | undefined;
  /** Post-copy dumps still serving the memory they left out, by images directory: criu's exit. */
  private readonly pageServers = new Map<string, Promise<CriuResult>>();

  constructor(
    private readonly settings: MigrationSettings,
    private readonly prefix: string,
  ) {}

  useCgroups(cgroups: CgroupDriver | undefined): void {
    this.cgroups = cgroups;
  }

  /** The install, or E_UNSUPPORTED saying how to get one. */
  install(): CriuInstall {
    const lookup = findCriu(this.prefix);
    if (lookup.found) return lookup.install;
    throw new NsboxError('E_UNSUPPORTED', `checkpoint/restore needs criu: ${lookup.reason}`, { details: { prefix: this.prefix } });
  }

  check(box: Box, spec: OciSpec): void {
    this.install();
    // The /proc views come back (see viewMounts); the kernel log view, bound over /dev/kmsg,
    // has no file of the host's that a box may read in its place.
    if (procViews(spec)?.files.includes('kmsg')) {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `box '${box.name}' has its own kernel log at /dev/kmsg (virtualisation.kernelLog), a FUSE mount its shim serves: criu cannot save it (its dump stops at "mnt: … doesn't have a proper root mount")`,
        { details: { box: box.name, field: 'virtualisation.kernelLog' } },
      );
    }
    // A seccomp listener cannot be saved: criu brings the filter back without one, and the
    // restored processes' notified calls (uname, sysinfo) would fail with ENOSYS.
    const notified = notifyRules(spec);
    if (notified.length > 0) {
      const rules = notified.map((rule) => `${rule.syscall} (${rule.owner})`).join(', ');
      throw new NsboxError(
        'E_UNSUPPORTED',
        `box '${box.name}' has syscalls answered by nsbox-notify: ${rules}; criu cannot restore a seccomp listener, so they would fail after a restore (ENOSYS)`,
        {
          details: { box: box.name, syscalls: notified.map((rule) => rule.syscall) },
        },
      );
    }
  }

  async checkpoint(request: CheckpointRequest, context: OperationContext): Promise<Record<string, unknown>> {
    const install = this.install();
    const pid = request.initPid;
    const externalNetns = networkLeftToPlugins(request.box, request.spec, pid);
    const fd = (n: number) => readLink(`/proc/${pid}/fd/${n}`);
    const boxMounts = parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
    const manifest: CheckpointManifest = {
      format: 1,
      box: { id: request.box.id, name: request.box.name },
      criu: install.version,
      at: Date.now(),
      leaveRunning: request.leaveRunning,
      stdio: { stdin: fd(0), stdout: fd(1), stderr: fd(2) },
      externalMounts: [...hostBinds(boxMounts, parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))), ...viewMounts(boxMounts)],
      externalStdio: stdioOutsideBox(pid, boxMounts),
      ...(request.spec.process?.terminal ? ttyOfTree(pid) : {}),
      cgroupDirs: this.cgroupDirs(request.box),
      tcpEstablished: request.extra.tcpEstablished === true,
      ...(externalNetns ? { externalNetns } : {}),
    };
    const logFile = join(request.boxDir, DUMP_LOG);
    const lazy = lazyPagesOf(request.extra);
    if (lazy) Object.assign(manifest, { lazyPages: true, pageServer: lazy });
    const args = dumpArgs({
      pid,
      imageDir: request.imageDir,
      logFile,
      leaveRunning: request.leaveRunning,
      manifest,
      options: {
        tcpEstablished: manifest.tcpEstablished,
        verbosity: this.settings.verbosity,
        ...(lazy ? { lazyPages: { ...lazy, statusFd: STATUS_FD } } : {}),
      },
    });
    // Written first, made the manifest once criu succeeded: an nsboxd killed while criu dumps
    // leaves what completeInterruptedDump needs to finish it.
    writeFileSync(pendingManifestFile(request.imageDir), `${JSON.stringify(manifest, null, 2)}\n`);
    context.progress({ step: 'checkpoint', message: lazy ? 'criu dump (post-copy)' : 'criu dump' });
    const started = Date.now();
    let ready: (() => void) | undefined;
    const served = new Promise<void>((resolve) => {
      ready = resolve;
    });
    // Its exit status is kept beside the images: an nsboxd killed meanwhile finds out from it.
    const exited = runCriu(install, args, {
      ...this.callOptions(context),
      detachOutput: true,
      exitFile: dumpExitFile(request.imageDir),
      ...(lazy ? { onStatus: () => ready?.() } : {}),
    });
    // Post-copy: the images are whole but for the memory once criu's page server is up; criu
    // then keeps the tree frozen and serves that memory until the target has it all.
    const result = await Promise.race([exited, served.then(() => undefined)]);
    if (result === undefined) {
      renameSync(pendingManifestFile(request.imageDir), manifestFile(request.imageDir));
      this.pageServers.set(request.imageDir, exited);
      void exited.finally(() => this.pageServers.delete(request.imageDir));
      return {
        criu: install.version,
        dumpMs: Date.now() - started,
        externalMounts: manifest.externalMounts.length,
        externalNetns: Boolean(externalNetns),
        pagesOwed: true,
      };
    }
    if (result.code !== 0) {
      throw new NsboxError('E_RUNTIME', `criu dump of box '${request.box.name}' failed: ${this.failure(result, logFile)} (log: ${logFile})`, {
        details: { box: request.box.name, step: 'criu-dump', log: logFile },
      });
    }
    renameSync(pendingManifestFile(request.imageDir), manifestFile(request.imageDir));
    return { criu: install.version, dumpMs: Date.now() - started, externalMounts: manifest.externalMounts.length, externalNetns: Boolean(externalNetns) };
  }

  /**
   * A post-copy dump's end: resolves once its page server handed the target every page (criu
   * then ends the frozen tree here); rejects when it failed — criu then lets the tree run on
   * here (its failed dump thaws it). Resolves at once for a dump that owes nothing.
   */
  async pagesServed(imageDir: string, logFile: string): Promise<void> {
    const exited = this.pageServers.get(imageDir);
    let result: Pick<CriuResult, 'code' | 'output' | 'timedOut'>;
    if (exited) result = await exited;
    else {
      // Started by an nsboxd that died since: criu's exit status is beside the images.
      while (dumpRunning(imageDir)) await new Promise((resolve) => setTimeout(resolve, 100));
      const exit = dumpExitFile(imageDir);
      result = { code: existsSync(exit) ? Number(readFileSync(exit, 'utf8').trim()) : null, output: '', timedOut: false };
    }
    if (result.code !== 0) throw new NsboxError('E_RUNTIME', `criu's page server failed: ${this.failure(result, logFile)} (log: ${logFile})`);
  }

  private failure(result: Pick<CriuResult, 'output' | 'timedOut'>, logFile: string): string {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : result.output;
    return result.timedOut ? `timed out after ${this.settings.timeoutSeconds} s` : criuErrors(log);
  }

  restoreNeeds(imageDir: string): RestoreNeeds {
    return { netns: readManifest(imageDir).externalNetns !== undefined };
  }

  async restoreLauncher(request: RestoreRequest, context: OperationContext): Promise<RestoreLauncher> {
    const install = this.install();
    const manifest = readManifest(request.imageDir);
    const server = lazyPagesOf(request.extra);
    if (manifest.lazyPages && !server) {
      throw new NsboxError('E_UNSUPPORTED', `the images of box '${request.box.name}' are a post-copy dump's: their memory is on its source's page server`, {
        details: { box: request.box.name, imageDir: request.imageDir },
      });
    }
    const logFile = join(request.boxDir, 'criu-restore.log');
    const pidFile = join(request.boxDir, 'criu-restore.pid');
    // criu refuses to write a pid file that exists.
    rmSync(pidFile, { force: true });
    const args = restoreArgs({
      imageDir: `/proc/self/fd/${IMAGES_FD}`,
      workDir: request.boxDir,
      logFile,
      pidFile,
      rootfs: request.root.path,
      manifest,
      stdinFd: STDIN_FD,
      outputFd: OUTPUT_FD,
      errorFd: ERROR_FD,
      ...(request.netns ? { netnsFd: NETNS_FD } : {}),
      cgroupRoots: this.cgroupRoots(request.box),
      ...(manifest.externalTty ? { terminalPath: TERMINAL_WORD } : {}),
      options: { verbosity: this.settings.verbosity },
    });
    giveImagesToBoxRoot(request.imageDir, request.spec);
    const unified = this.cgroups?.get(request.box.id)?.unifiedDir;
    for (const dir of unified ? (manifest.cgroupDirs ?? []) : []) mkdirSync(join(unified as string, dir), { recursive: true });
    const command = [SETPRIV, '--pdeathsig', 'KILL', '--', ...request.root.wrapper, install.file, ...install.args, ...args].map(scriptWord).join(' ');
    const fault = this.settings.fault ? `CRIU_FAULT=${shellQuote(this.settings.fault)} ` : '';
    const script = join(request.boxDir, RESTORE_SCRIPT);
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `# criu restore of box ${request.box.name}, run by its shim as its launcher (native PROTOCOL.md §1):`,
        '# fds 0-2 the box’s new stdio, 3 the (empty) program, 4 the result pipe.',
        // Killed with the shim (a restore that timed out is cleaned up by killing it), and criu
        // with this script: nothing of the restore outlives the shim but what is in the box's
        // cgroup, which goes with it.
        `[ -n "$NSBOX_RESTORE_GUARDED" ] || NSBOX_RESTORE_GUARDED=1 exec ${SETPRIV} --pdeathsig KILL -- /bin/sh "$0"`,
        'exec 3<&-',
        `exec ${IMAGES_FD}<${shellQuote(request.imageDir)} || { echo "error criu-restore 2 cannot open ${request.imageDir}" >&4; exit 1; }`,
        ...(request.netns
          ? [`exec ${NETNS_FD}<${shellQuote(request.netns)} || { echo "error criu-restore 2 cannot open ${request.netns}" >&4; exit 1; }`]
          : []),
        // A terminal box's new pty, the launcher's stdin: its console is bound from it.
        ...(manifest.externalTty ? terminalLines(request.spec) : []),
        'started=$(date +%s%N)',
        ...(manifest.lazyPages && server ? this.lazyPagesLines(install, request.boxDir, server, fault) : []),
        `${fault}${command} ${STDIN_FD}<&0 ${OUTPUT_FD}>&1 ${ERROR_FD}>&2 </dev/null >/dev/null 2>&1`,
        'rc=$?',
        // criu's own time, beside its log (bench/migration compares nsbox's restore with it).
        `echo $(( ($(date +%s%N) - started) / 1000000 )) > ${shellQuote(join(request.boxDir, RESTORE_MS))}`,
        `if [ "$rc" -eq 0 ] && [ -s ${shellQuote(pidFile)} ]; then`,
        `  echo "ok $(cat ${shellQuote(pidFile)})" >&4`,
        '  exit 0',
        'fi',
        `why=$(grep -E 'Error|BUG' ${shellQuote(logFile)} 2>/dev/null | tail -n 3 | tr '\\n' ' ' | cut -c1-600)`,
        `echo "error criu-restore 0 criu restore exited with $rc: \${why:-see ${logFile}}" >&4`,
        'exit 1',
        '',
      ].join('\n'),
      { mode: 0o700 },
    );
    chmodSync(script, 0o700);
    context.progress({ step: 'restore', message: 'criu restore' });
    return { path: script, facts: { criu: install.version, checkpointedAt: manifest.at } };
  }

  /**
   * The post-copy restore's lazy-pages daemon, started before criu restore (which hands it the
   * tasks' userfaultfds through a socket in the work dir, so it waits for that socket): a
   * session of its own without the launcher's fds, so that it outlives this script (reparented
   * to the shim, the subreaper) until it has pulled every page, and the shim's result pipe
   * closes with the script.
   */
  private lazyPagesLines(install: CriuInstall, boxDir: string, server: PageServer, fault: string): string[] {
    const args = lazyPagesArgs({
      imageDir: `/proc/self/fd/${IMAGES_FD}`,
      workDir: boxDir,
      logFile: join(boxDir, LAZY_PAGES_LOG),
      server,
      options: { verbosity: this.settings.verbosity },
    });
    const socket = shellQuote(join(boxDir, 'lazy-pages.socket'));
    const log = shellQuote(join(boxDir, LAZY_PAGES_LOG));
    return [
      `rm -f ${socket}`,
      `${fault}setsid ${[install.file, ...install.args, ...args].map(shellQuote).join(' ')} </dev/null >/dev/null 2>&1 4>&- &`,
      'lazy=$!',
      `tries=0; while [ ! -S ${socket} ]; do`,
      `  if ! kill -0 "$lazy" 2>/dev/null || [ "$tries" -ge 1000 ]; then`,
      `    echo "error criu-lazy-pages 0 criu lazy-pages did not start: $(grep -E 'Error' ${log} 2>/dev/null | tail -n 2 | tr '\\n' ' ' | cut -c1-400)" >&4`,
      '    kill "$lazy" 2>/dev/null; exit 1',
      '  fi',
      '  tries=$((tries + 1)); sleep 0.005',
      'done',
    ];
  }

  /**
   * Where criu puts the restored tree in each cgroup hierarchy (see restoreArgs): the box's
   * cgroup on this host, except in the hierarchies the runtime leaves alone (name=systemd),
   * where it stays where this host's processes are.
   */
  private cgroupRoots(box: Box): { controller?: string; path: string }[] {
    const cgroup = this.cgroups?.get(box.id);
    if (!cgroup || !this.cgroups) return [];
    return [{ path: boxCgroupPath(this.cgroups, cgroup) }, ...unmanagedCgroups(readFileSync('/proc/self/cgroup', 'utf8'), Object.keys(cgroup.v1Dirs))];
  }

  /** The directories below the box's cgroup2 directory, relative (see CheckpointManifest.cgroupDirs). */
  private cgroupDirs(box: Box): string[] {
    const unified = this.cgroups?.get(box.id)?.unifiedDir;
    if (!unified) return [];
    const dirs: string[] = [];
    const walk = (relativeDir: string) => {
      for (const entry of readdirSync(join(unified, relativeDir), { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const child = join(relativeDir, entry.name);
        dirs.push(child);
        walk(child);
      }
    };
    try {
      walk('');
    } catch {
      // the box's cgroup went meanwhile: the dump says so
    }
    return dirs;
  }

  private callOptions(context: OperationContext) {
    return {
      ...(this.settings.fault ? { fault: this.settings.fault } : {}),
      timeoutMs: this.settings.timeoutSeconds * 1000,
      signal: context.signal,
    };
  }
}

/**
 * A box that shares the host's network stack cannot be saved (its sockets are the host's).
 * A box whose namespace holds links other than its loopback had them wired from the host (the
 * network plugin's veth): criu would bring a veth back with a host end of its own naming,
 * outside the bridge and the plugin's rules. Its namespace is left out of the images instead
 * (returned here to be named external), and a restore joins one the plugins wire again, with
 * the same addresses (their claims outlive a stop), so that TCP connections can come back.
 */
function networkLeftToPlugins(box: Box, spec: OciSpec, pid: number): { inode: number } | undefined {
  let links: string[];
  let inode: number;
  try {
    inode = statSync(`/proc/${pid}/ns/net`).ino;
    if (inode === statSync('/proc/self/ns/net').ino) {
      throw new NsboxError('E_UNSUPPORTED', `box '${box.name}' shares the host's network stack: it cannot be checkpointed (migration plugin)`, {
        details: { box: box.name, field: 'isolation.namespaces.network' },
      });
    }
    links = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]?.trim() ?? '')
      .filter((name) => name !== '' && name !== 'lo');
  } catch (error) {
    if (error instanceof NsboxError) throw error;
    return undefined; // gone: the dump says so
  }
  if (links.length === 0) return undefined;
  // criu's restored init joins that namespace from inside the box's new user namespace, which
  // has no rights over one made outside it: `Can't unshare net-namespace: Operation not permitted`.
  if (spec.linux?.namespaces?.some((namespace) => namespace.type === 'user' && !namespace.path)) {
    throw new NsboxError(
      'E_UNSUPPORTED',
      `box '${box.name}' has network links (${links.join(', ')}) and a user namespace: its network cannot be restored yet (migration plugin)`,
      { details: { box: box.name, links } },
    );
  }
  return { inode };
}

/**
 * The init's fds 0-2 that are files on a mount the box does not have (conmon's `/dev/null`,
 * opened on the host before the box was made): criu cannot reach them by path, so they are
 * its external files, keyed by mount id and inode as criu names them.
 */
function stdioOutsideBox(pid: number, boxMounts: { id: number }[]): { fd: 0 | 1 | 2; key: string }[] {
  const ids = new Set(boxMounts.map((mount) => mount.id));
  const outside: { fd: 0 | 1 | 2; key: string }[] = [];
  for (const fd of [0, 1, 2] as const) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (!link.startsWith('/')) continue; // pipes, sockets: criu's own kinds
      if (isPtySlave(statSync(`/proc/${pid}/fd/${fd}`))) continue; // the box's terminal: criu's external tty
      const mountId = Number(/^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1]);
      if (!Number.isInteger(mountId) || ids.has(mountId)) continue;
      outside.push({ fd, key: `file[${mountId.toString(16)}:${statSync(`/proc/${pid}/fd/${fd}`).ino.toString(16)}]` });
    } catch {
      // closed or gone: the dump says so
    }
  }
  return outside;
}

/** The kernel's majors of pty slaves (UNIX98_PTY_SLAVE_MAJOR and the 7 after it). */
const PTY_SLAVE_MAJORS = [136, 143];

function isPtySlave(stat: Stats): boolean {
  const major = Math.floor(stat.rdev / 256) % 4096;
  return stat.isCharacterDevice() && major >= (PTY_SLAVE_MAJORS[0] as number) && major <= (PTY_SLAVE_MAJORS[1] as number);
}

/**
 * The box's terminal as criu keys it: the first slave of a pty of the host's devpts a process
 * of the tree has open (the console its shim made; systemd and its getty reopen it). Its master is the shim's,
 * outside the tree, so criu is told it is external and gets the new shim's pty on restore.
 */
function ttyOfTree(init: number): { externalTty?: string } {
  const hostDevpts = statSync('/dev/pts/ptmx').dev;
  const pending = [init];
  for (let pid = pending.shift(); pid !== undefined; pid = pending.shift()) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const stat = statSync(`/proc/${pid}/fd/${fd}`, { throwIfNoEntry: false });
        // The shim's pty is on the host's devpts; the box's own ptys (its devpts) are criu's to save.
        if (stat && isPtySlave(stat) && stat.dev === hostDevpts) {
          return { externalTty: `tty[${stat.rdev.toString(16)}:${stat.dev.toString(16)}]` };
        }
      }
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
        if (children) pending.push(...children.split(' ').map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return {};
}

/**
 * The v1 hierarchies of `/proc/self/cgroup` none of whose controllers the runtime manages,
 * each with this process's path in it (the cgroup2 line has no controllers: managed).
 */
/**
 * The box's cgroup as a path from its hierarchy's root, where criu puts the restored tree:
 * wherever the driver made it — systemd's leaf in the box's scope under a slice on pure
 * cgroup v2, the path an OCI config.json asked for (nsbox-runc), `/PARENT/BOX-ID` by default.
 */
export function boxCgroupPath(cgroups: Pick<CgroupDriver, 'layout' | 'parent'>, cgroup: Pick<BoxCgroup, 'name' | 'unifiedDir' | 'v1Dirs'>): string {
  const unified = cgroups.layout.unified;
  if (unified && cgroup.unifiedDir) return `/${relative(unified, cgroup.unifiedDir)}`;
  for (const [controller, dir] of Object.entries(cgroup.v1Dirs)) {
    const root = cgroups.layout.v1[controller];
    if (root) return `/${relative(root, dir)}`;
  }
  return `/${cgroups.parent}/${cgroup.name}`;
}

export function unmanagedCgroups(procCgroup: string, managed: string[]): { controller: string; path: string }[] {
  const roots: { controller: string; path: string }[] = [];
  for (const line of procCgroup.split('\n')) {
    const [, controllers = '', ...rest] = line.split(':');
    const names = controllers.split(',').filter(Boolean);
    if (names.length === 0 || names.some((name) => managed.includes(name))) continue;
    roots.push({ controller: names[names.length - 1] as string, path: rest.join(':') });
  }
  return roots;
}

/**
 * criu reads some images once it is inside the box's user namespace, where the host's root
 * is nobody: the images (the box's own memory) go to the host uid the box's root maps to.
 */
/**
 * The restore script's lines for a box with a terminal: the new pty's path, and the pty given
 * to the box's root and tty group as the launcher gives it at a start — criu sets the owner the
 * dump recorded from inside the box's user namespace, which it may not do to a host root's file.
 */
function terminalLines(spec: OciSpec): string[] {
  const lines = [`${TERMINAL_VAR}=$(readlink /proc/self/fd/0)`];
  const hostId = (mappings: { containerID: number; hostID: number; size: number }[] | undefined, id: number) => {
    const mapping = mappings?.find((entry) => id >= entry.containerID && id < entry.containerID + entry.size);
    return mapping ? mapping.hostID + id - mapping.containerID : undefined;
  };
  const uid = hostId(spec.linux?.uidMappings, 0);
  const gid = hostId(spec.linux?.gidMappings, TTY_GID) ?? hostId(spec.linux?.gidMappings, 0);
  if (uid !== undefined && gid !== undefined) lines.push(`chown ${uid}:${gid} "$${TERMINAL_VAR}"`);
  return lines;
}

/** Debian's tty group, which owns a pty slave (devpts gid=5). */
const TTY_GID = 5;

function giveImagesToBoxRoot(imageDir: string, spec: OciSpec): void {
  const hostId = (mappings: { containerID: number; hostID: number }[] | undefined) => mappings?.find((mapping) => mapping.containerID === 0)?.hostID;
  const uid = hostId(spec.linux?.uidMappings);
  const gid = hostId(spec.linux?.gidMappings);
  if (uid === undefined || gid === undefined) return;
  chownSync(imageDir, uid, gid);
  // Searchable by anyone (not listable): some of criu's opens run with an fsuid the box's namespace does not map.
  chmodSync(imageDir, 0o711);
  for (const name of readdirSync(imageDir)) {
    const path = join(imageDir, name);
    if (lstatSync(path).isFile()) chownSync(path, uid, gid);
  }
}

const pendingManifestFile = (imageDir: string) => `${manifestFile(imageDir)}.pending`;
const dumpExitFile = (imageDir: string) => `${imageDir}/nsbox-dump-exit`;
export const DUMP_LOG = 'criu-dump.log';
/** The target's lazy-pages daemon's log (post-copy), beside the restore's. */
export const LAZY_PAGES_LOG = 'criu-lazy-pages.log';

/** The page server a post-copy dump or restore is given (`extra.lazyPages`), checked. */
export function lazyPagesOf(extra: Record<string, unknown>): PageServer | undefined {
  const lazy = extra.lazyPages as Partial<PageServer> | undefined;
  if (lazy === undefined) return undefined;
  if (
    typeof lazy?.address !== 'string' ||
    !/^[0-9a-fA-F.:]+$/.test(lazy.address) ||
    !Number.isInteger(lazy.port) ||
    (lazy.port as number) <= 0 ||
    (lazy.port as number) > 65535
  ) {
    throw new NsboxError('E_INVALID_ARGUMENT', 'lazyPages: an IP address and a port (1–65535)', { details: { field: 'lazyPages' } });
  }
  return { address: lazy.address, port: lazy.port as number };
}

/**
 * Whether `imageDir` holds a whole dump, finishing one whose nsboxd died while criu ran: criu
 * (a process group of its own, its output going nowhere) carries on, and the shell around it
 * writes its exit status beside the images.
 */
export function completeInterruptedDump(imageDir: string): boolean {
  if (existsSync(manifestFile(imageDir))) return true;
  const pending = pendingManifestFile(imageDir);
  const exit = dumpExitFile(imageDir);
  if (!existsSync(pending) || !existsSync(exit) || readFileSync(exit, 'utf8').trim() !== '0') return false;
  renameSync(pending, manifestFile(imageDir));
  return true;
}

/** The post-copy dump's page server of these images (its manifest, or the pending one while criu dumps); undefined for any other dump. */
export function postcopyServer(imageDir: string): PageServer | undefined {
  for (const file of [manifestFile(imageDir), pendingManifestFile(imageDir)]) {
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as CheckpointManifest).pageServer;
  }
  return undefined;
}

/** How a finished dump into `imageDir` ended: criu's exit status as the shell around it kept it. */
export function dumpExit(imageDir: string): number | undefined {
  const exit = dumpExitFile(imageDir);
  return existsSync(exit) ? Number(readFileSync(exit, 'utf8').trim()) : undefined;
}

/** Whether a criu dump into `imageDir` still runs (started by an nsboxd that died since). */
export function dumpRunning(imageDir: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('dump') && args.includes(imageDir) && args.some((arg) => arg.endsWith('/criu'))) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

export function readManifest(imageDir: string): CheckpointManifest {
  const file = manifestFile(imageDir);
  if (!existsSync(file)) {
    throw new NsboxError('E_NOT_FOUND', `no checkpoint in ${imageDir} (no ${file})`, { details: { field: 'from', imageDir } });
  }
  return JSON.parse(readFileSync(file, 'utf8')) as CheckpointManifest;
}
