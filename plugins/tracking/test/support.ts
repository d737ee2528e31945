/**
 * What the real-box suites share: a host with the isolation, limits and tracking plugins and
 * the Linux driver on a cgroup parent of the test's own, busybox boxes, and cleanup that
 * destroys the boxes and removes the cgroups even when a test failed.
 */

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyPlugin, Box, BoxEvent } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { createCgroupDriver, type ExecResult, execInBox, LinuxBoxDriver } from '@nsbox/runtime';
import { type Cleanup, createTestHost, makeTempDir } from '@nsbox/testkit';
import { trackingPlugin } from '../src/index.js';
import { type TrackingService, trackingServiceId } from '../src/tracking-service.js';

export interface TrackingTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  tracking: TrackingService;
  cgroupParent: string;
  /** Creates and starts a busybox box whose init runs `init` (default: sleeps). */
  box(name: string, limits?: Record<string, unknown>, init?: string[]): Promise<Box>;
  exec(name: string, script: string): Promise<ExecResult>;
  events(name: string, kind: string): BoxEvent[];
}

export interface TrackingHostOptions {
  stateDir?: string;
  /** host.json's `settings.tracking`. */
  settings?: Record<string, unknown>;
  cgroupParent?: string;
  /** More plugins (a test's own contributor to the metrics point). */
  plugins?: AnyPlugin[];
}

export function testCgroupParent(): string {
  return `nsbox-test-${randomBytes(4).toString('hex')}`;
}

export function removeCgroupsAfter(cleanup: Cleanup, cgroupParent: string): void {
  cleanup.add(`remove the cgroups under ${cgroupParent}`, async () => {
    const cgroups = createCgroupDriver({ parent: cgroupParent });
    for (const name of cgroups.list()) await cgroups.remove(name);
    cgroups.removeParent();
  });
}

export async function openTrackingHost(cleanup: Cleanup, options: TrackingHostOptions = {}): Promise<TrackingTestHost> {
  const cgroupParent = options.cgroupParent ?? testCgroupParent();
  const stateDir = options.stateDir ?? makeTempDir(cleanup, 'state');
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { tracking: options.settings ?? {} } }));
  if (!options.cgroupParent) removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    plugins: [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, trackingPlugin as AnyPlugin, ...(options.plugins ?? [])],
    stateDir,
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  cleanup.add('destroy the boxes', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  });
  const driver = host.driver as LinuxBoxDriver;
  const plugin = host.plugins.plugins.find((loaded) => loaded.definition.name === 'tracking');
  const tracking = plugin?.container.get<TrackingService>(trackingServiceId) as TrackingService;
  return {
    host,
    driver,
    tracking,
    cgroupParent,
    async box(name, limits, init = ['sleep', '100000']) {
      await host.manager.create({ name, config: { template: 'busybox', process: { args: init }, ...(limits ? { limits } : {}) } });
      return host.manager.start(name);
    },
    exec: (name, script) => execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] }),
    events: (name, kind) => host.store.query({ boxId: host.manager.get(name).id, kind }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return check();
}
