/**
 * A minimal busybox rootfs, built in seconds from Debian's busybox-static: the box image
 * every runtime test uses.
 */

import { chmodSync, chownSync, copyFileSync, existsSync, lchownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

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
  'touch',
  'grep',
  'head',
  'tail',
  'true',
  'false',
  'env',
  'kill',
  'stat',
  'uname',
  'wc',
  'dd',
  'df',
  'free',
  'top',
  'uptime',
  'dmesg',
  'mknod',
  'chmod',
  'chown',
  'ln',
  'cp',
  'mv',
  'sed',
  'awk',
  'tr',
  'stty',
  'readlink',
  'nproc',
  'date',
  'init',
  'ip',
  'ping',
  'nc',
  'wget',
  'vi',
  'tee',
  'sort',
  'uniq',
  'cut',
  'test',
  '[',
  'printf',
  'seq',
  'yes',
  'pwd',
  'basename',
  'dirname',
  'whoami',
  'su',
  'renice',
  'nice',
  'pidof',
  'reboot',
  'halt',
  'poweroff',
  'sync',
  'xargs',
  'find',
  'ifconfig',
];

export interface BusyboxRootfsOptions {
  /** Host uid/gid that owns every file (the box's root for a user-namespaced box without idmapped mounts). */
  owner?: { uid: number; gid: number };
  hostname?: string;
}

export function busyboxAvailable(): boolean {
  return existsSync(BUSYBOX);
}

export function buildBusyboxRootfs(dir: string, options: BusyboxRootfsOptions = {}): string {
  if (!busyboxAvailable()) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (npm run setup does)`);
  for (const sub of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run', 'var/log', 'home', 'usr/bin', 'usr/sbin']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) {
    const link = join(dir, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  symlinkSync('../bin/busybox', join(dir, 'sbin/init'));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc/hostname'), `${options.hostname ?? 'box'}\n`);
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
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
