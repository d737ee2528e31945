/**
 * A debian-12 box booted with systemd (the virtualisation plugin's template) is checkpointed
 * and restored: systemd is its PID 1 again and the system is `running`. Its console is a pty
 * (criu's external tty, a new one from the new shim); the slices systemd watches are made
 * again before criu runs; its /proc views are bound again by the new shim's server. Its notified
 * syscalls and its kernel log are off: criu can save neither (README, "What it cannot do yet").
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import { execInBox, type LinuxRuntimeFacts, materializeTemplate } from '@nsbox/runtime';
import { makeTempDir, slowdown } from '@nsbox/testkit';
import { openMigrationHost, sleep, useCriuCleanup, waitFor } from './support.js';

/** The template cache the virtualisation suites share (debootstrap takes minutes the first time). */
const TEMPLATE_CACHE = process.env.NSBOX_TEST_TEMPLATE_CACHE ?? '/var/tmp/nsbox-test-templates';

describe('migration: a box booted with systemd', function () {
  this.timeout(20 * 60_000);
  const cleanup = useCriuCleanup();

  it('checkpoints and restores a debian-12 box: systemd is its PID 1 again, the system running, its journal goes on', async () => {
    const t = await openMigrationHost(cleanup, { virtualisation: true });
    const { rootfs } = await materializeTemplate('debian-12', join(makeTempDir(cleanup, 'debian'), 'rootfs'), { cacheDir: TEMPLATE_CACHE });
    await t.host.manager.create({ name: 'mig-deb', config: { rootfs, virtualisation: { sysinfo: false, kernelLog: false, quota: false } } });
    await t.host.manager.start('mig-deb');
    const box = (): Box => t.host.manager.get('mig-deb');
    const sh = async (script: string) => (await execInBox(t.driver, box(), { args: ['sh', '-c', script] })).stdout.trim();
    // systemctl's settled state (running, degraded, ...), polled: the bus comes up partway through a boot.
    const settled = async () => {
      const deadline = Date.now() + 60_000 * slowdown();
      let state = '';
      while (Date.now() < deadline && !['running', 'degraded', 'maintenance'].includes(state)) {
        state = await sh('systemctl is-system-running').catch(() => '');
        await sleep(100);
      }
      return state;
    };
    /** This boot's journal lines of the test's tag, once `last` is among them. */
    const journal = async (last: string) => {
      for (let i = 0; i < 50; i++) {
        const lines = await sh('journalctl -b -t nsbox-test --no-pager -o cat');
        if (lines.includes(last)) return lines;
        await sleep(100);
      }
      return '';
    };
    assert.equal(await settled(), 'running');
    const bootId = await sh('cat /proc/sys/kernel/random/boot_id');
    await sh('logger -t nsbox-test before-checkpoint');
    assert.equal(await journal('before-checkpoint'), 'before-checkpoint');
    const before = (box().runtime as LinuxRuntimeFacts).init?.pid;

    await t.host.manager.checkpoint('mig-deb', { imageDir: join(t.host.stateDir, 'deb-images') });
    assert.equal(box().state, 'stopped');
    await t.host.manager.restore('mig-deb', { imageDir: join(t.host.stateDir, 'deb-images') });
    assert.equal(box().state, 'running');
    assert.notEqual((box().runtime as LinuxRuntimeFacts).init?.pid, before, 'a new init process on the host');

    assert.equal(await sh('cat /proc/1/comm'), 'systemd');
    const init = (box().runtime as LinuxRuntimeFacts).init?.pid;
    const viewed = () =>
      readFileSync(`/proc/${init}/mountinfo`, 'utf8')
        .split('\n')
        .some((line) => line.split(' ')[4] === '/proc/meminfo' && / - fuse/.test(line));
    assert.ok(await waitFor(viewed, 10_000), 'its /proc views are mounted again');
    assert.equal(await settled(), 'running', 'systemd is running after the restore, no unit failed');
    assert.equal(await sh('cat /proc/sys/kernel/random/boot_id'), bootId, 'the same host boot');
    // journald came back with its state: the line from before is in this boot's journal, and a new one joins it.
    await sh('logger -t nsbox-test after-restore');
    assert.equal(await journal('after-restore'), 'before-checkpoint\nafter-restore', 'the journal holds the line from before the checkpoint and the one after');
    // getty still holds the console: the box's new pty, the device /dev/console is bound from
    // (its fd names the pty's host path, /dev/pts/N, which criu opened: no longer /dev/console).
    const [getty, console] = (await sh('stat -Lc %t:%T /proc/$(pgrep -x agetty)/fd/0 /dev/console')).split('\n');
    assert.equal(getty, console, `getty's terminal is the box's console (${getty} vs ${console})`);
    assert.match(getty ?? '', /^8[8-9a-f]:/, 'a pty (major 136-143)');
  });
});
