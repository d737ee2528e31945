/** IO throttles on a real box: direct writes to a block device run at the configured rate, changed live. */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { type LimitsTestHost, openLimitsHost } from './support.js';

const MiB = 2 ** 20;

describe('limits: IO throttles on a real box', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: LimitsTestHost;
  let device: string;

  before(function () {
    requireRoot(this, 'IO limits on a real box');
  });

  beforeEach(async () => {
    // A loop device of the test's own, on a small image file.
    const image = join(makeTempDir(cleanup, 'io'), 'disk.img');
    execFileSync('truncate', ['-s', '64M', image]);
    device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    cleanup.add(`detach ${device}`, () => execFileSync('losetup', ['-d', device]));
    t = await openLimitsHost(cleanup);
  });

  /**
   * Seconds to write `mib` MiB with O_DIRECT to the device inside the box, timed in the box
   * (/proc/uptime around dd): the exec into the box is not part of it, which on a slow
   * machine (the VM lane's emulated guest) takes seconds.
   */
  async function directWrite(mib: number): Promise<number> {
    const result = await t.exec(
      'io',
      `read before _ </proc/uptime; dd if=/dev/zero of=/testdev bs=1M count=${mib} oflag=direct 2>&1; echo status=$?; read after _ </proc/uptime; echo "uptime $before $after"`,
    );
    assert.match(result.stdout, /status=0/, result.stdout);
    const [, before, after] = /uptime ([\d.]+) ([\d.]+)/.exec(result.stdout) ?? [];
    assert.ok(before && after, result.stdout);
    return Number(after) - Number(before);
  }

  it('holds direct writes to about writeBps, and follows a live change', async () => {
    await t.host.manager.create({
      name: 'io',
      config: { template: 'busybox', process: { args: ['sleep', '100000'] }, limits: { io: [{ device, writeBps: '4M' }] } },
    });
    // The device node inside the box's rootfs (its /dev is a fresh tmpfs).
    const rdev = statSync(device).rdev;
    const rootfs = (t.host.manager.get('io').runtime as LinuxRuntimeFacts).rootfs as string;
    execFileSync('mknod', [join(rootfs, 'testdev'), 'b', String((rdev >> 8) & 0xfff), String((rdev & 0xff) | ((rdev >> 12) & ~0xff))]);
    await t.host.manager.start('io');

    const slow = 12 / (await directWrite(12));
    console.log(`      direct writes at writeBps 4M: ${slow.toFixed(2)} MiB/s`);
    assert.ok(slow > 3 && slow < 5, `${slow.toFixed(2)} MiB/s is not about 4 MiB/s`);

    const changed = Date.now();
    await t.host.manager.update('io', { limits: { io: [{ device, writeBps: '8M' }] } });
    console.log(`      writeBps 4M -> 8M applied in ${Date.now() - changed} ms`);
    const fast = 16 / (await directWrite(16));
    console.log(`      direct writes at writeBps 8M: ${fast.toFixed(2)} MiB/s`);
    assert.ok(fast > 6 && fast < 10, `${fast.toFixed(2)} MiB/s is not about 8 MiB/s`);

    const report = t.limits.report(t.host.manager.get('io'));
    assert.deepEqual(report.effective?.io, [{ device: report.effective?.io[0]?.device, writeBps: 8 * MiB }]);
    await t.host.manager.update('io', { limits: null });
    const [controller, file] = t.driver.resources.host.flavor('io') === 'v2' ? ['io', 'io.max'] : ['blkio', 'blkio.throttle.write_bps_device'];
    assert.equal(t.cgroup('io', controller, file), '', 'removing the limit removes the throttle');
  });
});
