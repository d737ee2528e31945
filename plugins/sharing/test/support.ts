/**
 * What the real-box suites share: a host with the isolation, limits and sharing plugins and the
 * Linux driver on a cgroup parent of the test's own, a busybox template directory of the test's
 * own, and cleanup that destroys the boxes (unmounting their overlays), detaches the loop
 * devices of the test's disk images and removes the cgroups.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyPlugin, Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { type CgroupManagerKind, createCgroupDriver, type ExecResult, execInBox, LinuxBoxDriver } from '@nsbox/runtime';
import { buildBusyboxRootfs, type Cleanup, createTestHost, makeTempDir, removeCgroupsAfter } from '@nsbox/testkit';
import { sharingPlugin } from '../src/index.js';

export interface SharingTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  cgroupParent: string;
  stateDir: string;
  /** A busybox rootfs directory of the test's own, used as a template (by its path). */
  template: string;
  /** Creates a box from the template, shared unless the sharing section says otherwise. */
  create(name: string, config?: Record<string, unknown>): Promise<Box>;
  /** Creates and starts one whose init sleeps. */
  box(name: string, config?: Record<string, unknown>): Promise<Box>;
  exec(name: string, script: string): Promise<ExecResult>;
  boxDir(name: string): string;
}

/** Mount points (host mount namespace) under dir. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Bytes a tree takes on disk, never crossing a mount. */
export function diskUse(dir: string): number {
  return Number(execFileSync('du', ['-s', '-B1', '-x', dir], { encoding: 'utf8' }).split(/\s/)[0]);
}

function detachLoopsUnder(dir: string): void {
  const lines = execFileSync('losetup', ['-a', '-n', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  for (const line of lines) {
    const [device, file] = line.trim().split(/\s+/, 2);
    if (!device || !file?.startsWith(`${dir}/`)) continue;
    for (const mount of execFileSync('findmnt', ['-n', '-o', 'TARGET', '-S', device], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      execFileSync('umount', ['-l', mount]);
    }
    execFileSync('losetup', ['-d', device]);
  }
}

/**
 * `stateDir`: the host's state directory, an empty one of the test's own (default: a new temp
 * dir); `cgroupManager`: who makes the boxes' cgroups (default: the host's choice, systemd's
 * scopes where systemd is PID 1 on cgroup2).
 */
export async function openSharingHost(
  cleanup: Cleanup,
  options: { settings?: Record<string, unknown>; stateDir?: string; cgroupManager?: CgroupManagerKind } = {},
): Promise<SharingTestHost> {
  const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
  const template = buildBusyboxRootfs(join(makeTempDir(cleanup, 'template'), 'rootfs'));
  writeFileSync(join(template, 'etc', 'motd'), 'from the template\n');
  const stateDir = options.stateDir ?? makeTempDir(cleanup, 'state');
  if (options.settings) writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { sharing: options.settings } }));
  removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    stateDir,
    plugins: [isolationPlugin as AnyPlugin, limitsPlugin, sharingPlugin],
    driver: (dir) =>
      new LinuxBoxDriver({
        stateDir: dir,
        cgroupParent,
        ...(options.cgroupManager ? { cgroups: createCgroupDriver({ parent: cgroupParent, manager: options.cgroupManager }) } : {}),
      }),
  });
  cleanup.add('destroy boxes, unmount what is left, detach loop devices', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    for (const point of mountsUnder(stateDir).reverse()) execFileSync('umount', ['-l', point]);
    if (existsSync(stateDir)) detachLoopsUnder(stateDir);
  });
  const driver = host.driver as LinuxBoxDriver;
  const create = (name: string, config: Record<string, unknown> = {}) =>
    host.manager.create({ name, config: { template, process: { args: ['sleep', '100000'] }, sharing: { template: 'shared' }, ...config } });
  return {
    host,
    driver,
    cgroupParent,
    stateDir,
    template,
    create,
    async box(name, config) {
      await create(name, config);
      return host.manager.start(name);
    },
    exec: (name, script) => execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] }),
    boxDir: (name) => driver.boxDir(host.manager.get(name)),
  };
}
