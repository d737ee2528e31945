/**
 * Checkpoint and restore of real boxes with the real criu (the private prefix setup
 * installs): the counter continues, the box is running again under a shim that supervises
 * its restored init, its cgroup limits hold, and a stop after it leaves nothing behind.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findAction, invokeAction } from '@nsbox/host';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { makeTempDir, useCleanup } from '@nsbox/testkit';
import { cgroupPids, isAlive, type MigrationTestHost, openMigrationHost, requireCriu, sleep, waitFor } from './support.js';

async function action(t: MigrationTestHost, name: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const api = t.host.manager;
  return (await invokeAction(findAction(t.host.plugins, 'migration', name), input, {
    api: undefined as never,
    tenant: null,
    box: async (ref) => api.sync(ref),
    services: t.host.plugins,
  })) as Record<string, unknown>;
}

describe('migration: checkpoint and restore of a real box', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  it('stops the box at a checkpoint and brings it back: the counter continues from where it was, under a new shim', async () => {
    const t = await openMigrationHost(cleanup);
    const box = await t.box('mig-counter', { limits: { pids: 64 } });
    assert.ok(await waitFor(() => t.count('mig-counter') >= 5, 10_000), 'the counter runs');
    const before = box.runtime as LinuxRuntimeFacts;

    const saved = await action(t, 'checkpoint', { box: 'mig-counter' });
    assert.equal(saved.state, 'stopped');
    const atDump = t.count('mig-counter');
    await sleep(500);
    assert.equal(t.count('mig-counter'), atDump, 'nothing counts while the box is saved');
    assert.equal(isAlive(before.init?.pid), false, 'the old init is gone');
    assert.ok(existsSync(join(String(saved.imageDir), 'nsbox-checkpoint.json')));

    const restored = await action(t, 'restore', { box: 'mig-counter' });
    assert.equal(restored.state, 'running');
    const after = t.host.manager.get('mig-counter');
    const facts = after.runtime as LinuxRuntimeFacts;
    assert.ok(facts.init && facts.shim);
    assert.notEqual(facts.shim.pid, before.shim?.pid, 'a new shim supervises the restored init');
    assert.equal(
      readFileSync(`/proc/${facts.init.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1],
      String(facts.shim.pid),
      "the restored init is its shim's child",
    );
    assert.ok(await waitFor(() => t.count('mig-counter') > atDump + 3, 10_000), 'the counter goes on after the restore');
    assert.ok(t.count('mig-counter') > atDump, `continued from ${atDump}, not from 0`);
    // Its output still reaches the console log through the new shim's pipe.
    const lastTick = atDump + 2;
    assert.ok(await waitFor(() => t.driver.logs(after).includes(`tick ${lastTick}\n`), 5_000), `tick ${lastTick} in the console log`);

    // The limit the limits plugin declared holds in the restored box's cgroup, with its processes in it.
    assert.equal(t.driver.cgroups.read(after.id, 'pids', 'pids.max').trim(), '64');
    assert.ok(cgroupPids(t.driver, after).includes(facts.init.pid), 'the restored init is in the box cgroup');

    const stopped = await t.host.manager.stop('mig-counter', { timeoutMs: 2_000 });
    assert.equal(stopped.state, 'stopped');
    assert.equal(isAlive(facts.init.pid), false);
    assert.ok(await waitFor(() => !isAlive(facts.shim?.pid), 5_000), 'the shim ended with its box');
    assert.equal(t.driver.cgroups.get(after.id), undefined, 'the box cgroup is gone');
    // The root criu was given lived in a mount namespace of its own: the host never had it.
    const boxDir = t.driver.boxDir(after);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(boxDir), 'no mount of the restore is left on the host');
    await t.host.manager.destroy('mig-counter');
    assert.equal(existsSync(boxDir), false, 'the box directory, with its images, went with the box');
  });

  it('keeps a pty session: a box with a terminal comes back on a new pty of its new shim, still its /dev/console, and its output goes on there', async () => {
    const t = await openMigrationHost(cleanup);
    const script = 'i=0; while true; do i=$((i+1)); echo "tick $i"; echo $i > /count; tty > /tty; sleep 0.1; done';
    await t.box('mig-tty', { process: { args: ['sh', '-c', script], terminal: true } });
    assert.ok(await waitFor(() => t.count('mig-tty') >= 3, 10_000), 'the counter runs');

    await action(t, 'checkpoint', { box: 'mig-tty' });
    const atDump = t.count('mig-tty');
    await action(t, 'restore', { box: 'mig-tty' });
    const after = t.host.manager.get('mig-tty');
    const init = (after.runtime as LinuxRuntimeFacts).init?.pid;
    assert.ok(await waitFor(() => t.count('mig-tty') > atDump + 3, 10_000), 'the counter goes on after the restore');
    const pty = readlinkSync(`/proc/${init}/fd/0`);
    assert.match(pty, /^\/dev\/pts\/\d+$/, 'the restored shell reads a pty');
    assert.equal(
      readFileSync(join((after.runtime as LinuxRuntimeFacts).rootfs as string, 'tty'), 'utf8'),
      '/dev/console\n',
      'its terminal is still its /dev/console',
    );
    const tick = atDump + 2;
    assert.ok(await waitFor(() => t.driver.logs(after).includes(`tick ${tick}`), 5_000), `tick ${tick}, written after the restore, reached the console log`);
  });

  it('refuses, before anything stops, a box whose syscalls nsbox-notify answers, naming them', async () => {
    const t = await openMigrationHost(cleanup, { virtualisation: true });
    await t.box('mig-notify', { virtualisation: { sysinfo: true, procViews: false, kernelLog: false } });
    await assert.rejects(action(t, 'checkpoint', { box: 'mig-notify' }), (error: Error & { code?: string }) => {
      assert.match(error.message, /sysinfo \(virtualisation\)/);
      return /E_UNSUPPORTED/.test(String(error.code ?? '')) || /E_UNSUPPORTED|cannot restore a seccomp listener/.test(error.message);
    });
    assert.equal(t.host.manager.get('mig-notify').state, 'running');
    const before = t.count('mig-notify');
    assert.ok(await waitFor(() => t.count('mig-notify') > before, 5_000), 'the box still runs');
  });

  it('brings the /proc views back: the new shim binds them again over the stand-ins criu restored', async () => {
    const t = await openMigrationHost(cleanup, { virtualisation: true });
    await t.box('mig-views', { limits: { memory: '256M' }, virtualisation: { sysinfo: false, kernelLog: false, quota: false } });
    const memTotal = async () => (await t.exec('mig-views', 'grep MemTotal /proc/meminfo')).replace(/\s+/g, ' ').trim();
    assert.equal(await memTotal(), 'MemTotal: 262144 kB', "the view shows the box's limit");
    // Twice: a restored box, its views over the stand-ins, is saved again.
    for (const round of [1, 2]) {
      await action(t, 'checkpoint', { box: 'mig-views' });
      await action(t, 'restore', { box: 'mig-views' });
      const init = (t.host.manager.get('mig-views').runtime as LinuxRuntimeFacts).init?.pid;
      // The new server mounts once criu is done: the box reads the kernel's text until then.
      const over = (path: string) =>
        readFileSync(`/proc/${init}/mountinfo`, 'utf8')
          .split('\n')
          .filter((line) => line.split(' ')[4] === path)
          .map((line) => line.split(' - ')[1]?.split(' ')[0]);
      assert.ok(
        await waitFor(() => over('/proc/meminfo').at(-1)?.startsWith('fuse') === true, 10_000),
        `round ${round}: the view is mounted over /proc/meminfo again`,
      );
      // criu cannot drop a mount: each round keeps the stand-ins it found under the view (README).
      assert.deepEqual(over('/proc/meminfo').slice(0, -1), Array(round).fill('proc'), `round ${round}: ${round} stand-in(s) under the view`);
      assert.equal(await memTotal(), 'MemTotal: 262144 kB', `round ${round}: the view shows the box's limit after the restore`);
    }
    const before = t.count('mig-views');
    assert.ok(await waitFor(() => t.count('mig-views') > before, 5_000), 'the box runs');
  });

  it('refuses, before anything stops, a box with its own kernel log (a FUSE mount over /dev/kmsg), naming the field', async () => {
    const t = await openMigrationHost(cleanup, { virtualisation: true });
    await t.box('mig-kmsg', { virtualisation: { sysinfo: false, kernelLog: true, quota: false } });
    await assert.rejects(action(t, 'checkpoint', { box: 'mig-kmsg' }), /virtualisation\.kernelLog/);
    assert.equal(t.host.manager.get('mig-kmsg').state, 'running');
  });

  it("refuses, before anything stops, a box that shares the host's network stack", async () => {
    const t = await openMigrationHost(cleanup);
    await t.box('mig-hostnet', { isolation: { namespaces: { network: 'host' } } });
    await assert.rejects(action(t, 'checkpoint', { box: 'mig-hostnet' }), /shares the host's network stack/);
    assert.equal(t.host.manager.get('mig-hostnet').state, 'running');
  });

  it("keeps a filter that logs its denials (tracking's two filters): the same filters, a denial still EPERM and still in the kernel's log", async () => {
    const t = await openMigrationHost(cleanup, { tracking: true });
    const box = await t.box('mig-logged');
    const filters = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Seccomp_filters:\s*(\d+)/m)?.[1];
    const initPid = (box.runtime as LinuxRuntimeFacts).init?.pid as number;
    const rootUid = readFileSync(`/proc/${initPid}/status`, 'utf8').match(/^Uid:\s*(\d+)/m)?.[1];
    assert.equal(filters(initPid), '2', "tracking's unlogged filter and the logged one");
    // The kernel's records of a denied mount(2) by this box's root (its host uid), the command named.
    const deniedMounts = () =>
      execFileSync('dmesg', ['--raw'], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.includes('type=1326') && line.includes(` uid=${rootUid} `) && line.includes('comm="mount"')).length;
    const deny = async () => t.exec('mig-logged', 'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; echo status=$?');
    const logged = deniedMounts();
    assert.match(await deny(), /permission denied[\s\S]*status=[1-9]/);
    assert.ok(await waitFor(() => deniedMounts() > logged, 5_000), 'the denial before the checkpoint is in the kernel log');

    await action(t, 'checkpoint', { box: 'mig-logged' });
    await action(t, 'restore', { box: 'mig-logged' });
    const restoredPid = (t.host.manager.get('mig-logged').runtime as LinuxRuntimeFacts).init?.pid as number;
    assert.equal(filters(restoredPid), '2', 'criu gave the restored init both filters');
    const beforeRestoredDenial = deniedMounts();
    assert.match(await deny(), /permission denied[\s\S]*status=[1-9]/, 'still denied after the restore');
    assert.ok(await waitFor(() => deniedMounts() > beforeRestoredDenial, 5_000), 'and still logged: the restored filter kept its log flag');
  });

  it('keeps the box running with leaveRunning, and the images restore after a stop', async () => {
    const t = await openMigrationHost(cleanup);
    await t.box('mig-snap');
    assert.ok(await waitFor(() => t.count('mig-snap') >= 3, 10_000));
    const to = join(makeTempDir(cleanup, 'images'), 'snap');
    const saved = await action(t, 'checkpoint', { box: 'mig-snap', leaveRunning: true, to });
    assert.equal(saved.state, 'running');
    assert.equal(saved.imageDir, to);
    const atDump = t.count('mig-snap');
    assert.ok(await waitFor(() => t.count('mig-snap') > atDump + 10, 10_000), 'still counting after the snapshot');
    await t.host.manager.stop('mig-snap', { timeoutMs: 1_000 });
    const restored = await action(t, 'restore', { box: 'mig-snap', from: to });
    assert.equal(restored.state, 'running');
    // The snapshot's memory: the counter starts again just after where it was at the dump.
    assert.ok(await waitFor(() => t.count('mig-snap') > 0 && t.count('mig-snap') <= atDump + 5, 5_000), `counter back near ${atDump}`);
  });
});

describe('migration: what a restored box keeps of its virtual server', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  it('keeps its time namespace: its uptime goes on from where it was, it does not start again', async () => {
    const t = await openMigrationHost(cleanup, { virtualisation: true });
    // Without what criu cannot carry: notified syscalls and the FUSE-served /proc views.
    await t.box('mig-clock', { virtualisation: { sysinfo: false, kernelLog: false, quota: false, procViews: false } });
    const uptime = async () => Number((await t.exec('mig-clock', 'cat /proc/uptime')).split(' ')[0]);
    await sleep(1_500);
    const before = await uptime();
    assert.ok(before >= 1 && before < 60, `a fresh box's uptime (${before} s) counts from its start`);
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    assert.ok(host - before > 60 || host < 60, 'the host has been up longer than the box');
    await action(t, 'checkpoint', { box: 'mig-clock' });
    await sleep(1_000);
    await action(t, 'restore', { box: 'mig-clock' });
    const after = await uptime();
    assert.ok(after >= before, `uptime ${after} s after the restore, ${before} s before the dump: it went on`);
    assert.ok(after < before + 30, `uptime ${after} s is the box's, not the host's (${host} s)`);
  });
});
