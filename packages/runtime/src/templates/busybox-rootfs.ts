/**
 * A minimal busybox rootfs, built in seconds from Debian's busybox-static: the `busybox`
 * built-in template and the box image every runtime test uses.
 */

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  lchownSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';

export const BUSYBOX = '/bin/busybox';

/** Linked in /bin when this busybox has them (Debian's busybox-static has all of these). */
const APPLETS = [
  'sh',
  'ash',
  'cat',
  'echo',
  'ls',
  'id',
  'hostname',
  'sleep',
  'ps',
  'mount',
  'umount',
  'mkdir',
  'rm',
  'rmdir',
  'touch',
  'grep',
  'egrep',
  'fgrep',
  'head',
  'tail',
  'true',
  'false',
  'env',
  'kill',
  'killall',
  'stat',
  'uname',
  'wc',
  'dd',
  'df',
  'du',
  'free',
  'top',
  'uptime',
  'dmesg',
  'mknod',
  'mkfifo',
  'chmod',
  'chown',
  'chgrp',
  'ln',
  'cp',
  'mv',
  'sed',
  'awk',
  'tr',
  'stty',
  'readlink',
  'realpath',
  'nproc',
  'date',
  'init',
  'ip',
  'ping',
  'nc',
  'wget',
  'vi',
  'less',
  'more',
  'tee',
  'sort',
  'uniq',
  'cut',
  'test',
  '[',
  '[[',
  'printf',
  'seq',
  'yes',
  'pwd',
  'basename',
  'dirname',
  'whoami',
  'su',
  'login',
  'passwd',
  'renice',
  'nice',
  'ionice',
  'pidof',
  'reboot',
  'halt',
  'poweroff',
  'sync',
  'xargs',
  'find',
  'ifconfig',
  'route',
  'netstat',
  'nslookup',
  'hostid',
  'logger',
  'syslogd',
  'klogd',
  'tar',
  'gzip',
  'gunzip',
  'zcat',
  'md5sum',
  'sha256sum',
  'expr',
  'diff',
  'which',
  'mktemp',
  'hexdump',
  'od',
  'watch',
  'timeout',
  'nsenter',
  'unshare',
  'setsid',
  'taskset',
  'chroot',
  'getty',
  'udhcpc',
];

/**
 * busybox init reads this instead of its built-in default, which runs /etc/init.d/rcS and
 * asks "Please press Enter to activate this console" on the console and tty2-4, respawning
 * forever — noise in a box that has no console. With only these two lines init stays idle as
 * PID 1. Signals: SIGHUP re-reads this file; SIGTERM means reboot, SIGUSR1 halt, SIGUSR2
 * poweroff: each runs the shutdown line, sends SIGTERM then (about 1 s later) SIGKILL to every
 * process and calls reboot(2), which in a PID namespace ends init itself, killed by SIGHUP
 * (reboot) or SIGINT (halt, poweroff) — about 2 s after the signal.
 */
const INITTAB = '::sysinit:/bin/true\n::shutdown:/bin/true\n';

export interface BusyboxRootfsOptions {
  /** Host uid/gid that owns every file (the box's root for a user-namespaced box without idmapped mounts). */
  owner?: { uid: number; gid: number };
  hostname?: string;
}

export function busyboxAvailable(): boolean {
  return existsSync(BUSYBOX);
}

export function buildBusyboxRootfs(dir: string, options: BusyboxRootfsOptions = {}): string {
  if (!busyboxAvailable()) {
    throw new NsboxError('E_UNSUPPORTED', `${BUSYBOX} is missing: install Debian's busybox-static (npm run setup does)`, { details: { path: BUSYBOX } });
  }
  if (hasInterpreter(BUSYBOX)) {
    // A dynamic busybox would look for its libc inside the box, where there is none.
    throw new NsboxError('E_UNSUPPORTED', `${BUSYBOX} is dynamically linked: install Debian's busybox-static instead of busybox`, {
      details: { path: BUSYBOX },
    });
  }
  for (const sub of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run', 'var/log', 'home', 'usr/bin', 'usr/sbin']) {
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const available = appletsOf(BUSYBOX);
  for (const applet of APPLETS) {
    if (available && !available.has(applet)) continue;
    const link = join(dir, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  symlinkSync('../bin/busybox', join(dir, 'sbin/init'));
  // Scripts start with #!/usr/bin/env sh as often as with #!/bin/sh.
  symlinkSync('../../bin/busybox', join(dir, 'usr/bin/env'));
  const hostname = options.hostname ?? 'box';
  writeFileSync(join(dir, 'etc/inittab'), INITTAB);
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc/hostname'), `${hostname}\n`);
  writeFileSync(join(dir, 'etc/hosts'), `127.0.0.1 localhost\n::1 localhost\n127.0.1.1 ${hostname}\n`);
  // Filled per box by whoever sets up its network.
  writeFileSync(join(dir, 'etc/resolv.conf'), '');
  if (options.owner) chownTree(dir, options.owner.uid, options.owner.gid);
  return dir;
}

export function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else if (entry.isSymbolicLink()) lchownSync(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

let appletCache: Set<string> | null | undefined;

/** The applets this busybox was built with, or null when it cannot say. */
function appletsOf(binary: string): Set<string> | null {
  if (appletCache !== undefined) return appletCache;
  const listed = spawnSync(binary, ['--list'], { encoding: 'utf8' });
  appletCache = listed.status === 0 ? new Set(listed.stdout.split('\n').filter(Boolean)) : null;
  return appletCache;
}

/** True when the ELF file asks for a program interpreter (PT_INTERP), i.e. is dynamically linked. */
function hasInterpreter(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.toString('latin1', 0, 4) !== '\x7fELF') return false;
    const is64 = header[4] === 2;
    const le = header[5] === 1;
    const u16 = (buf: Buffer, at: number) => (le ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
    const u32 = (buf: Buffer, at: number) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
    const phoff = is64 ? Number(le ? header.readBigUInt64LE(0x20) : header.readBigUInt64BE(0x20)) : u32(header, 0x1c);
    const phentsize = u16(header, is64 ? 0x36 : 0x2a);
    const phnum = u16(header, is64 ? 0x38 : 0x2c);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === 3) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}
