/**
 * What the isolation suites share: a host with the plugin and the Linux driver on a test
 * cgroup parent, busybox rootfs directories (under a 0700 temp dir, owned by host root),
 * the attack program compiled statically into them, and a way to run commands in a box.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyPlugin, Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { createCgroupDriver, type ExecResult, execInBox, LinuxBoxDriver } from '@nsbox/runtime';
import { buildBusyboxRootfs, type Cleanup, createTestHost, makeTempDir } from '@nsbox/testkit';
import { isolationPlugin } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const attackSource = join(here, 'escape', 'attack.c');

/** Applets the suites use beyond the busybox template's. */
const EXTRA_APPLETS = ['ip', 'unshare', 'renice', 'reboot', 'insmod', 'nc', 'setpriv', 'sysctl', 'nsenter', 'chroot', 'touch', 'ln'];

/** A cgroup parent of the test's own, removed (with every box cgroup under it) afterwards. */
export function testCgroupParent(cleanup: Cleanup): string {
  const parent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  cleanup.add(`remove cgroups under ${parent}`, async () => {
    const cgroups = createCgroupDriver({ parent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
  return parent;
}

export interface IsolationHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  stateDir: string;
  /** Its boxes' cgroup parent (for a CLI run against the same state dir: NSBOX_CGROUP_PARENT). */
  cgroupParent: string;
}

/** A host with the isolation plugin (and `plugins`), whose boxes are destroyed afterwards. */
export async function openIsolationHost(cleanup: Cleanup, options: { cgroupParent: string; stateDir?: string; plugins?: AnyPlugin[] }): Promise<IsolationHost> {
  const stateDir = options.stateDir ?? makeTempDir(cleanup, 'state');
  const host = await createTestHost(cleanup, {
    stateDir,
    plugins: [isolationPlugin as AnyPlugin, ...(options.plugins ?? [])],
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent: options.cgroupParent }),
  });
  cleanup.add('destroy boxes', async () => {
    if (!host.store.db.open) return;
    for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  });
  return { host, driver: host.driver as LinuxBoxDriver, stateDir, cgroupParent: options.cgroupParent };
}

/** The attack program, compiled once per process into a temp dir of the caller's. */
let compiled: string | undefined;
export function compileAttack(dir: string): string {
  if (compiled && existsSync(compiled)) return compiled;
  const out = join(dir, 'attack');
  execFileSync('gcc', ['-static', '-O1', '-o', out, attackSource], { stdio: 'pipe' });
  compiled = out;
  return out;
}

/** A busybox rootfs in a fresh 0700 temp dir, owned by host root, with /attack when given. */
export function makeRootfs(cleanup: Cleanup, attack?: string): string {
  const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
  for (const applet of EXTRA_APPLETS) {
    const link = join(rootfs, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  if (attack) {
    copyFileSync(attack, join(rootfs, 'attack'));
    chmodSync(join(rootfs, 'attack'), 0o755);
  }
  return rootfs;
}

/** Runs a command in a running box; `sh -c` when given a string. */
export async function inBox(kit: IsolationHost, box: Box | string, command: string | string[]): Promise<ExecResult> {
  const current = kit.host.manager.get(typeof box === 'string' ? box : box.id);
  return execInBox(kit.driver, current, { args: typeof command === 'string' ? ['sh', '-c', command] : command });
}

/** The first line of stdout of the attack program: `ok ...` or `err ENAME`. */
export async function attack(kit: IsolationHost, box: Box | string, ...args: string[]): Promise<string> {
  const result = await inBox(kit, box, ['/attack', ...args]);
  return (result.stdout.split('\n')[0] ?? '').trim() || `no output (exit ${result.exitCode}, stderr ${result.stderr.trim()})`;
}
