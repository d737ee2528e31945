/**
 * The sharing plugin's CPU shares, measured on real boxes:
 *   npx tsx --conditions=source bench/cpu-share.ts [seconds]
 * - two busy boxes on one CPU (limits' cpuset) with weights 1:3 (100 and 300): their share of
 *   the CPU, from their cgroups' usage (the issue asks 25 % / 75 % ± 5 %);
 * - a box with a token bucket (fill rate 20 ms per 100 ms, bucket 20 ms) that was idle and
 *   becomes busy: its usage in the first period (fill + burst) and once it settled (the fill
 *   rate), with the kernel's throttling counters.
 * Prints figures only: the default suite asserts what it can on a machine shared with others.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { sharingPlugin } from '@nsbox/plugin-sharing';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver, spawnInBox } from '@nsbox/runtime';

const seconds = Number(process.argv[2] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const template = buildBusyboxRootfs(join(work, 'rootfs'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const driver = new LinuxBoxDriver({ stateDir: join(work, 'state'), cgroupParent });
const host = await openHost({ stateDir: join(work, 'state'), discover: false, driver, plugins: [limitsPlugin, sharingPlugin as AnyPlugin] });
const busy = { args: ['sh', '-c', 'while :; do :; done'] };
const usage = (name: string) => driver.resources.stats(host.manager.get(name))?.cpu.usageUsec ?? 0;

try {
  const cpu = '0';
  for (const [name, weight] of [
    ['light', 100],
    ['heavy', 300],
  ] as const) {
    await host.manager.create({ name, config: { template, sharing: { template: 'shared', cpu: { weight } }, limits: { cpuset: cpu }, process: busy } });
    await host.manager.start(name);
  }
  await sleep(500);
  const before = { light: usage('light'), heavy: usage('heavy') };
  await sleep(seconds * 1000);
  const used = { light: usage('light') - before.light, heavy: usage('heavy') - before.heavy };
  const total = used.light + used.heavy;
  console.log(
    `weights 1:3 on CPU ${cpu}, ${seconds} s: light ${((100 * used.light) / total).toFixed(1)} %, heavy ${((100 * used.heavy) / total).toFixed(1)} % (of ${(total / 1e6).toFixed(2)} CPU-s)`,
  );
  for (const name of ['light', 'heavy']) await host.manager.destroy(name, { force: true });

  await host.manager.create({
    name: 'bucket',
    config: { template, sharing: { template: 'shared', cpu: { fillRate: 20, interval: 100, bucket: 20 } }, process: { args: ['sleep', '100000'] } },
  });
  await host.manager.start('bucket');
  await sleep(1000); // idle: the kernel's burst fills
  const idle = usage('bucket');
  const spin = driver.resources.stats(host.manager.get('bucket'));
  const child = spawnInBox(driver, host.manager.get('bucket'), { args: ['sh', '-c', 'while :; do :; done'] });
  await sleep(100);
  const first = usage('bucket') - idle;
  await sleep(2000);
  const mid = usage('bucket');
  await sleep(seconds * 1000);
  const settled = (usage('bucket') - mid) / (seconds * 1000);
  const stats = driver.resources.stats(host.manager.get('bucket'));
  console.log(
    `token bucket 20 ms / 100 ms, bucket 20 ms: first 100 ms busy after idle ${(first / 1000).toFixed(1)} ms of CPU; settled ${(settled / 10).toFixed(1)} % of a CPU (fill rate 20 %); throttled periods ${stats?.cpu.throttledPeriods ?? '?'} (were ${spin?.cpu.throttledPeriods ?? '?'})`,
  );
  child.kill();
} finally {
  for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  host.close();
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  rmSync(work, { recursive: true, force: true });
}
