/**
 * One boot of the debian-12 template with systemd as PID 1, on this host's cgroups (v1 hybrid
 * here, v2 in the VM lane): `systemctl is-system-running` says running, journald has the boot,
 * getty runs on the box's own console, `nsbox stop` halts systemd cleanly (SIGRTMIN+3, no
 * SIGKILL), and nothing of the box is left on the host. Figures asserted and printed: start to
 * `running`, memory of the idle booted box, stop. The reboot of such a box and its figures are
 * in systemd-boot.slow-test.ts.
 *
 * The template is built once per machine (minutes, debootstrap from deb.debian.org) into a
 * cache shared between runs; a box is a copy of it (~250 MB, a few seconds).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import { buildBusyboxRootfs, makeTempDir, requireRoot, slowdown, snapshotHost, useCleanup } from '@nsbox/testkit';
import { debianRootfs, run, systemState } from './debian-box.js';
import { openVirtHost, type VirtTestHost, waitFor } from './support.js';

describe('virtualisation: a debian-12 box boots systemd', function () {
  // The first run on a machine builds the template: debootstrap takes minutes.
  this.timeout(20 * 60_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'booting systemd in a real box');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  it('runs systemd as PID 1 until `running`, with journald, a getty on its console, its own cgroup tree; stops it cleanly and leaves nothing', async () => {
    const rootfs = await debianRootfs(cleanup);
    const mib = 2 ** 20;
    // A line in the host's kernel log, from before and during the box's boot: never the box's.
    const hostMarker = `nsbox-test-host-marker-${process.pid}-${Date.now()}`;
    writeFileSync('/dev/kmsg', `<6>${hostMarker} before\n`);
    await t.host.manager.create({ name: 'deb', config: { rootfs, limits: { memory: '512M' } } });
    const started = Date.now();
    await t.host.manager.start('deb');
    const box = (): Box => t.host.manager.get('deb');
    writeFileSync('/dev/kmsg', `<6>${hostMarker} during\n`);
    const { state, ms: bootMs } = await systemState(t.driver, box, started, 60_000 * slowdown());
    console.log(`      systemd: start to '${state}' in ${bootMs} ms`);
    const failed = (await run(t.driver, box(), 'systemctl --failed --no-legend --plain')).stdout.trim();
    assert.equal(state, 'running', `no unit failed (failed: ${failed || 'none'})`);
    assert.ok(bootMs < 30_000 * slowdown(), `booted in ${bootMs} ms`);

    const inside = await run(
      t.driver,
      box(),
      'cat /proc/1/comm; tr "\\0" "\\n" < /proc/1/environ | grep ^container=; stat -fc %T /sys/fs/cgroup; stat -fc %T /run; stat -fc %T /run/lock; hostname; ' +
        'journalctl -b --no-pager -o cat | grep -c "Startup finished"; readlink /proc/$(pgrep -x agetty)/fd/0; cat /proc/1/cgroup | grep ^0::',
    );
    const lines = inside.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 6), ['systemd', 'container=nsbox', 'cgroup2fs', 'tmpfs', 'tmpfs', 'deb'], inside.stderr);
    assert.equal(lines[6], '1', 'journalctl -b shows the boot');
    assert.equal(lines[7], '/dev/console', 'a getty on the console (console-getty.service)');
    assert.equal(lines[8], '0::/init.scope', "systemd moved itself into its own cgroup tree (the box's, delegated)");
    // journald follows the box's own kernel log (its /dev/kmsg view): a line the box writes
    // there is in `journalctl -k`, and the host's lines never are.
    const journald = await run(
      t.driver,
      box(),
      'systemctl show -p SubState --value systemd-journald; echo "<5>nsbox-box-line: written to the box kmsg" > /dev/kmsg',
    );
    assert.equal(journald.stdout.trim(), 'running', `journald runs: ${journald.stderr}`);
    // Idle, journald waits in epoll: a /dev/kmsg that polled always readable made it spin.
    const cpu = await run(
      t.driver,
      box(),
      'j=$(pidof systemd-journald); t() { cut -d" " -f14,15 /proc/$j/stat | tr " " +; }; a=$(($(t))); sleep 1; echo $(($(t) - a)) $(getconf CLK_TCK)',
    );
    const [ticks, hz] = cpu.stdout.trim().split(' ').map(Number) as [number, number];
    assert.ok(hz > 0 && ticks / hz < 0.2, `journald used ${ticks}/${hz} s of CPU in an idle second: ${cpu.stdout} ${cpu.stderr}`);
    const kernelJournal = async () => (await run(t.driver, box(), 'journalctl -k --no-pager -o short')).stdout;
    assert.ok(
      await waitFor(async () => (await kernelJournal()).includes('nsbox-box-line: written to the box kmsg'), 10_000 * slowdown(), 200),
      `journalctl -k has the box's line: ${await kernelJournal()}`,
    );
    // The control: the marker is in the host's log (a box reading that would show it; see
    // proc-views.test.ts for a box that does).
    assert.ok(spawnSync('dmesg', [], { encoding: 'utf8' }).stdout.includes(`${hostMarker} during`), "the marker is in the host's log");
    assert.ok(!(await kernelJournal()).includes(hostMarker), 'journalctl -k has no host line');
    // util-linux dmesg reads /dev/kmsg too (SEEK_DATA, then record by record).
    const dmesg = (await run(t.driver, box(), 'dmesg')).stdout;
    assert.match(dmesg, /nsbox-box-line: written to the box kmsg/, `dmesg: ${dmesg}`);
    assert.ok(!dmesg.includes(hostMarker), 'dmesg has no host line');
    assert.ok(!(await run(t.driver, box(), 'journalctl -b --no-pager -o short')).stdout.includes(hostMarker), 'nor has any of the journal');

    // The box's output is its console: systemd's boot messages and the login prompt.
    const log = () => readFileSync(t.driver.files(box()).consoleLog, 'utf8');
    assert.match(log(), /Welcome to .*Debian GNU\/Linux 12/);
    assert.ok(await waitFor(() => /deb login: /.test(log()), 10_000 * slowdown()), 'the login prompt on the console');

    // Memory of the idle booted box: its cgroup's usage (v1 or v2).
    const v1 = t.driver.cgroups.layout.v1.memory !== undefined;
    const usage = Number(t.driver.cgroups.read(box().id, 'memory', v1 ? 'memory.usage_in_bytes' : 'memory.current').trim());
    console.log(`      idle booted box: ${(usage / mib).toFixed(1)} MiB (its cgroup's memory usage, page cache included)`);
    assert.ok(usage > 4 * mib && usage < 256 * mib, `idle memory ${usage} bytes`);

    const stopping = Date.now();
    const stopped = await t.host.manager.stop('deb', { timeoutMs: 10_000 * slowdown() });
    const stopMs = Date.now() - stopping;
    console.log(`      systemd: stopped (SIGRTMIN+3) in ${stopMs} ms`);
    assert.equal(stopped.state, 'stopped');
    assert.deepEqual(t.host.manager.history({ boxId: stopped.id, kind: 'box.stop-forced' }), [], 'systemd halted before the timeout');
    assert.ok(stopMs < 10_000 * slowdown(), `stopped in ${stopMs} ms`);
    // systemd's own tree (init.scope, system.slice...) went with the box's cgroup.
    const left = snapshotHost({ cgroupParent: t.driver.cgroups.parent, marker: t.driver.boxesDir, ownDirs: [t.driver.stateDir] });
    assert.deepEqual([left.cgroups, left.processes], [[], []]);
    await t.host.manager.destroy('deb');
    assert.equal(existsSync(t.driver.boxDir(stopped)), false);
  });

  it('refuses to start a box whose rootfs has no init (a minbase), naming it, with nothing left behind', async () => {
    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'noinit'), 'rootfs'));
    rmSync(join(rootfs, 'sbin/init'));
    await t.host.manager.create({ name: 'noinit', config: { rootfs } });
    await assert.rejects(t.host.manager.start('noinit'), (error: { code?: string; message: string; details?: Record<string, unknown> }) => {
      assert.equal(error.code, 'E_INVALID_CONFIG');
      assert.equal(error.details?.field, 'process.args');
      assert.match(error.message, /the box cannot boot: its init \/sbin\/init does not exist in its rootfs/);
      return true;
    });
    assert.equal(t.host.manager.get('noinit').state, 'created');
    const left = snapshotHost({ cgroupParent: t.driver.cgroups.parent, marker: t.driver.boxesDir, ownDirs: [t.driver.stateDir] });
    assert.deepEqual([left.cgroups, left.processes], [[], []]);
  });
});
