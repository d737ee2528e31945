/**
 * Test harness for nsbox-launcher: busybox root filesystems, a child-subreaper wrapper that
 * plays the shim's part (boxes are re-parented to it and reaped), and a `launch` helper
 * that speaks the launcher's fd protocol (fd 3 program, fd 4 result line).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { launcherPath as builtLauncherPath, encodeProgram, type LaunchOp } from '../lib/index.js';

/** The launcher under test: the build, or NSBOX_TEST_LAUNCHER (e.g. a debug build). */
export const launcherPath = process.env.NSBOX_TEST_LAUNCHER ?? builtLauncherPath;

/** Mapped range used by user-namespaced test boxes. */
export const HOST_ID = 100000;
export const ID_MAP = `0 ${HOST_ID} 65536\n`;

const APPLETS = [
  'sh',
  'echo',
  'cat',
  'hostname',
  'id',
  'ls',
  'sleep',
  'mount',
  'grep',
  'mkdir',
  'readlink',
  'pwd',
  'ps',
  'head',
  'wc',
  'touch',
  'test',
  'tty',
  'stat',
  'true',
  'false',
  'env',
];

export interface TestRootfs {
  /** The temp dir (prefix nsbox-test-) that owns everything, removed by `remove`. */
  dir: string;
  /** The box's root. */
  rootfs: string;
  remove(): void;
}

function chownTree(path: string, id: number): void {
  lchownSync(path, id, id);
  if (lstatSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), id);
  }
}

/** A busybox rootfs; owned by `owner` (the mapped root of user-namespaced boxes). */
export function makeRootfs(owner = HOST_ID): TestRootfs {
  const dir = mkdtempSync('/tmp/nsbox-test-');
  const rootfs = join(dir, 'rootfs');
  for (const sub of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) {
    mkdirSync(join(rootfs, sub), { recursive: true });
  }
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  chownTree(dir, owner);
  return {
    dir,
    rootfs,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The ops of a user-namespaced box with /proc, up to and including pivot_root. */
export function boxOps(rootfs: string, options: { hostname?: string; extraMounts?: LaunchOp[] } = {}): LaunchOp[] {
  return [
    ['mode', 'create'],
    ['namespaces', 'user', 'pid', 'mnt', 'uts', 'ipc', 'net'],
    ['uidmap', ID_MAP],
    ['gidmap', ID_MAP],
    ['setgroups', 'deny'],
    ['rootfs', rootfs],
    ['mount', 'proc', '/proc', 'proc', 'nosuid,nodev,noexec', ''],
    ...(options.extraMounts ?? []),
    ['pivot_root'],
    ...(options.hostname ? [['hostname', options.hostname]] : []),
    ['env', 'PATH=/bin:/sbin'],
  ];
}

/**
 * A child subreaper, like the shim: it runs the launcher, writes the launcher's exit code
 * to the fd named in argv[1], then reaps every orphan (the box init) until none is left.
 * Compiled per test run: it keeps the tests free of zombies even when pid 1 does not reap.
 */
const REAPER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main (int argc, char **argv)
{
  int status_fd = atoi (argv[1]), st;
  pid_t launcher, pid;

  if (argc < 3 || prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    return 125;
  launcher = fork ();
  if (launcher == 0)
    {
      close (status_fd);
      execv (argv[2], argv + 2);
      _exit (127);
    }
  for (int fd = 0; fd < 1024; fd++)
    if (fd != status_fd)
      close (fd);
  while ((pid = wait (&st)) > 0 || errno == EINTR)
    if (pid == launcher)
      {
        dprintf (status_fd, "%d\n", WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st));
        close (status_fd);
      }
  return 0;
}
`;

export class Reaper {
  readonly dir = mkdtempSync('/tmp/nsbox-test-reaper-');
  readonly path = join(this.dir, 'reaper');

  constructor() {
    writeFileSync(join(this.dir, 'reaper.c'), REAPER_C);
    execFileSync('cc', ['-O2', '-o', this.path, join(this.dir, 'reaper.c')]);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface LaunchOptions {
  /** Extra fds given to the launcher as fd 5, 6, ... */
  extraFds?: number[];
  /** Written to the box's stdin (then closed); otherwise stdin is closed at once. */
  stdin?: string;
  /** Run through the reaper (create mode): boxes are reaped when they die. */
  reaper?: Reaper;
  /** argv[1] of the launcher, to find its processes in /proc/PID/cmdline. */
  marker?: string;
}

export class Launch {
  readonly proc: ChildProcess;
  /** The line from fd 4 without its newline ('' if none). */
  readonly result: Promise<string>;
  /** The launcher's exit code. */
  readonly exitCode: Promise<number>;
  /** Resolves when the launched process (reaper or launcher) has exited. */
  readonly closed: Promise<void>;
  stdout = '';
  stderr = '';
  /** The box init's pid once the result was `ok PID` (create mode). */
  okPid: number | undefined;
  private readonly outputWaiters: Array<() => void> = [];
  private readonly stdoutEnd: Promise<void>;

  constructor(ops: readonly LaunchOp[], options: LaunchOptions = {}) {
    const extra = options.extraFds ?? [];
    const marker = options.marker ?? 'nsbox-test-launch';
    const stdio: Array<'pipe' | number> = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...extra];
    let command = launcherPath;
    let args = [marker];
    if (options.reaper) {
      stdio.push('pipe');
      command = options.reaper.path;
      args = [String(stdio.length - 1), launcherPath, marker];
    }
    this.proc = spawn(command, args, { stdio });
    const fd = (n: number) => this.proc.stdio[n] as Readable & Writable;

    fd(3).end(encodeProgram(ops));
    fd(3).on('error', () => {});
    fd(0).on('error', () => {});
    fd(0).end(options.stdin ?? '');
    this.result = collect(fd(4)).then((text) => {
      const line = text.replace(/\n$/, '');
      const match = /^ok (\d+)$/.exec(line);
      if (match) this.okPid = Number(match[1]);
      return line;
    });
    this.closed = new Promise((resolve) => this.proc.on('close', () => resolve()));
    if (options.reaper) {
      this.exitCode = collect(fd(stdio.length - 1)).then((text) => Number.parseInt(text, 10));
    } else {
      this.exitCode = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0))));
    }
    fd(1).on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      for (const wake of this.outputWaiters.splice(0)) wake();
    });
    fd(2).on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.stdoutEnd = new Promise((resolve) => fd(1).on('close', () => resolve()));
  }

  /** Resolves with the whole stdout once every writer (launcher and box) has closed it. */
  async output(): Promise<string> {
    await this.stdoutEnd;
    return this.stdout;
  }

  /** Waits until stdout matches `pattern`. */
  async waitForOutput(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdout)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout: ${JSON.stringify(this.stdout)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.outputWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.stdout;
  }

  /** The box init's pid from an `ok PID` result. */
  async boxPid(): Promise<number> {
    const result = await this.result;
    const match = /^ok (\d+)$/.exec(result);
    if (!match) throw new Error(`launcher failed: ${result} (stderr: ${this.stderr})`);
    return Number(match[1]);
  }
}

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    stream.on('error', () => resolve(text));
    stream.on('close', () => resolve(text));
  });
}

/** Kills pids (ignoring the ones already gone). */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Whether a promise settles within `ms` (so that a cleanup never hangs a suite). */
export async function finishes(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pids whose command line contains `marker` (live processes only). */
export function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Mount points of this (the host's) mount namespace. */
export function hostMountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4] ?? '');
}

export function exists(path: string): boolean {
  return existsSync(path);
}
