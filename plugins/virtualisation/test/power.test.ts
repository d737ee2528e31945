/**
 * Reboot and halt from inside a real box (FEATURES 3g): busybox init's `reboot` ends the
 * box's init with SIGHUP (reboot(2) in its pid namespace), the core settles the exit and the
 * box comes back — same box, same limits and name, a new init, `box.rebooted` in its history,
 * nothing of the old run left on the host; `poweroff` leaves it stopped; `onReboot: 'stop'`
 * too; a box that reboots in a loop is restarted with backoff, then left stopped with the
 * reason. Realtime clocks cannot be set from a box (EPERM).
 *
 * The settling is done as the resident agent does it (core `sync`, then `restartDue` for a
 * delayed restart); the agent's own path (watcher, timers, nsboxd down) is in
 * packages/daemon/test/agent-power.test.ts.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Box, BoxEvent } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { makeTempDir, requireRoot, snapshotHost, useCleanup } from '@nsbox/testkit';
import { openVirtHost, sleep, type VirtTestHost, waitFor } from './support.js';

describe('virtualisation: reboot and halt from inside a box', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'reboot and halt of real boxes');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  const initOf = (name: string) => (t.host.manager.get(name).runtime as LinuxRuntimeFacts).init?.pid;
  const history = (name: string, kind: string): BoxEvent[] =>
    t.host.manager.history({ boxId: t.host.manager.get(name).id, ...(kind ? { kind } : {}), limit: 1000 });

  /** What the resident agent does when an init ends or a delayed restart falls due, until `done` holds. */
  async function settleUntil(name: string, done: (box: Box) => boolean, timeoutMs = 30_000): Promise<Box> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let box = await t.host.manager.sync(name);
      if (box.state === 'stopped' && box.runtime.pendingRestart) box = await t.host.manager.restartDue(name);
      if (done(box)) return box;
      if (Date.now() > deadline) {
        const events = history(name, '').map((event) => `${event.kind} ${JSON.stringify(event.data)}`);
        throw new Error(`box ${name} is ${box.state}, not what the test waits for; its history:\n${events.join('\n')}`);
      }
      await sleep(20);
    }
  }

  /** The host's side of a running box: its cgroups, mounts and processes (shim, helper) — without pids. */
  async function hostSide(name: string) {
    // The box's nsbox-notify runs once its shim has a listener to serve: wait for it.
    assert.ok(await waitFor(() => t.notifyPid(name) !== undefined, 5_000), 'the box has its nsbox-notify');
    const snapshot = snapshotHost({ cgroupParent: t.driver.cgroups.parent, marker: t.driver.boxesDir, ownDirs: [t.driver.stateDir] });
    const withoutRunFacts = (line: string) =>
      line
        .replace(/^\d+ /, '')
        .replace(/--started-boottime-ns \d+/, '--started-boottime-ns N')
        .replace(/--init-pid \d+/, '--init-pid N');
    return { ...snapshot, processes: snapshot.processes.map(withoutRunFacts) };
  }

  it('brings a busybox-init box back after `reboot` inside: a new init, the same box and limits, box.rebooted, nothing left of the old run', async () => {
    const booted = await t.box('rb', { process: { args: ['/sbin/init'] }, limits: { memory: '96M', pids: 64 } });
    const firstInit = initOf('rb');
    const running = await hostSide('rb');
    assert.ok(running.processes.length >= 1, `the box's shim is seen: ${JSON.stringify(running.processes)}`);

    const asked = Date.now();
    const reboot = await askInitLater('rb', 'reboot');
    assert.equal(reboot.exitCode, 0, reboot.stderr);
    const back = await settleUntil('rb', (box) => box.state === 'running' && initOf('rb') !== firstInit);
    const tookMs = Date.now() - asked;

    assert.equal(back.id, booted.id, 'the same box');
    const [stopped] = history('rb', 'state.stopped');
    assert.equal(stopped?.data.reason, 'reboot', 'the init ended as reboot(2) in its pid namespace ends it (SIGHUP)');
    const rebooted = history('rb', 'box.rebooted');
    assert.equal(rebooted.length, 1);
    assert.equal(rebooted[0]?.data.previousInit, firstInit);
    assert.equal(rebooted[0]?.data.init, initOf('rb'));
    // busybox init runs its shutdown, then SIGTERM and SIGKILL to all with ~1 s pauses, then reboot(2).
    assert.ok(tookMs < 15_000, `reboot took ${tookMs} ms`);
    console.log(`      reboot of a busybox-init box: ${tookMs} ms from \`reboot\` to a new init running (new start ${rebooted[0]?.data.tookMs} ms)`);

    // Same limits, same name: the new run was configured from the same box.
    const v1 = t.driver.cgroups.layout.v1.memory !== undefined;
    const limit = t.driver.cgroups.read(booted.id, 'memory', v1 ? 'memory.limit_in_bytes' : 'memory.max').trim();
    assert.equal(Number(limit), 96 * 2 ** 20);
    assert.equal(t.driver.cgroups.read(booted.id, 'pids', 'pids.max').trim(), '64');
    assert.equal((await t.exec('rb', 'hostname')).stdout.trim(), 'rb');
    assert.equal((await t.exec('rb', 'cat /proc/1/comm')).stdout.trim(), 'init', 'busybox init is PID 1 again');
    // The time namespace restarts from zero with the new run.
    const uptime = Number.parseFloat((await t.exec('rb', 'cat /proc/uptime')).stdout);
    assert.ok(uptime < 10, `uptime after the reboot: ${uptime} s`);

    // Nothing of the old run is left: the host side is what it was with one run.
    assert.deepEqual(await hostSide('rb'), running);
  });

  /**
   * Runs `command` (poweroff, halt, reboot) inside the box a moment after the exec returns. Run
   * in the exec itself, it raced the init it asks: the halting init's SIGTERM to every process
   * could end the exec'd command before it exited (143 on a loaded host).
   */
  function askInitLater(name: string, command: string) {
    return t.exec(name, `(sleep 0.3; ${command}) </dev/null >/dev/null 2>&1 &`);
  }

  it('leaves a box stopped after `poweroff` and after `halt`, even under restart always', async () => {
    for (const [name, command] of [
      ['po', 'poweroff'],
      ['ha', 'halt'],
    ] as const) {
      await t.box(name, { process: { args: ['/sbin/init'] }, restart: 'always' });
      assert.equal((await askInitLater(name, command)).exitCode, 0);
      const box = await settleUntil(name, (candidate) => candidate.state === 'stopped');
      await sleep(200);
      assert.equal((await t.host.manager.sync(name)).state, 'stopped');
      assert.equal(history(name, 'state.stopped')[0]?.data.reason, 'halt', name);
      assert.deepEqual(history(name, 'box.restarting'), [], name);
      assert.equal(box.runtime.pendingRestart, undefined);
    }
    const left = snapshotHost({ cgroupParent: t.driver.cgroups.parent, marker: t.driver.boxesDir });
    assert.deepEqual([left.processes, left.cgroups], [[], []], 'no shim, helper or cgroup is left');
  });

  it("leaves a rebooted box stopped under onReboot 'stop', saying why", async () => {
    await t.box('rs', { process: { args: ['/sbin/init'] }, virtualisation: { onReboot: 'stop' } });
    assert.equal((await askInitLater('rs', 'reboot')).exitCode, 0);
    const box = await settleUntil('rs', (candidate) => candidate.state === 'stopped');
    assert.equal(history('rs', 'state.stopped')[0]?.data.reason, 'reboot');
    assert.match(String(box.runtime.stopReason), /onReboot 'stop'/);
    assert.equal(history('rs', 'box.not-restarted').length, 1);
  });

  it('restarts a box that reboots in a loop with growing delays, then leaves it stopped with the reason', async () => {
    const restarts = { max: 3, backoffMs: 300, maxBackoffMs: 5000, stableMs: 60_000 };
    await t.box('loop', { process: { args: ['sh', '-c', 'sleep 0.2; reboot -f; sleep 100'] }, virtualisation: { restarts } });
    const box = await settleUntil('loop', (candidate) => candidate.state === 'stopped' && candidate.runtime.stopReason !== undefined);
    assert.match(String(box.runtime.stopReason), /^reboot loop: 3 restarts in a row, none ran 60000 ms/);
    assert.equal(history('loop', 'box.rebooted').length, 3);
    assert.deepEqual(
      history('loop', 'box.restart-scheduled').map((event) => event.data.delayMs),
      [300, 600],
      'the first restart is immediate, then the delay doubles',
    );
    // Each delayed restart began no sooner than its delay after the init ended.
    const stops = history('loop', 'state.stopped').map((event) => event.time);
    const restarting = history('loop', 'box.restarting').map((event) => event.time);
    assert.equal(stops.length, 4);
    assert.equal(restarting.length, 3);
    for (const [index, delay] of [0, 300, 600].entries()) {
      const waited = (restarting[index] as number) - (stops[index] as number);
      assert.ok(waited >= delay, `restart ${index + 1} waited ${waited} ms, its delay is ${delay} ms`);
    }
    assert.equal(history('loop', 'box.not-restarted').length, 1);
    const info = (await new LocalBoxApi(t.host).details('loop')).virtualisation as Record<string, unknown>;
    assert.match(String(info.stopReason), /^reboot loop/, 'nsbox info says why it stays stopped');
    assert.match(String(info.restarts), /^at most 3 in a row/);
    assert.match(String(info.clocks), /realtime is the host's: Linux has no per-box realtime clock \(setting it from the box fails with EPERM\)/);
    // A start by hand begins a new series and clears the reason.
    const again = await t.host.manager.start('loop');
    assert.equal(again.runtime.stopReason, undefined);
  });

  it('kills an init that ignores the stop signal once the timeout is over, and says so', async () => {
    // A pid namespace's init gets no signal it has no handler for: `sleep` ignores SIGTERM.
    await t.box('deaf', { process: { args: ['sleep', '100000'] } });
    const began = Date.now();
    const stopped = await t.host.manager.stop('deaf', { timeoutMs: 700 });
    const tookMs = Date.now() - began;
    assert.equal(stopped.state, 'stopped');
    assert.ok(tookMs >= 700, `stopped after ${tookMs} ms`);
    const [forced] = t.host.manager.history({ boxId: stopped.id, kind: 'box.stop-forced' });
    assert.deepEqual([forced?.data.timeoutMs, forced?.data.signal], [700, 9], 'the stop says the init was killed after the timeout');
    // A box that halts by itself in time is not reported.
    await t.box('polite', { process: { args: ['/sbin/init'] } });
    // An init has no handler in its first moments: wait until busybox init caught its signals.
    const caught = async () => /SigCgt:\s*0*[1-9a-f]/.test((await t.exec('polite', 'grep SigCgt /proc/1/status')).stdout);
    assert.ok(await waitFor(caught, 5_000));
    const polite = await t.host.manager.stop('polite', { timeoutMs: 10_000 });
    assert.deepEqual(t.host.manager.history({ boxId: polite.id, kind: 'box.stop-forced' }), []);
  });

  it('refuses to set the realtime clock from a box: date -s, settimeofday, clock_settime and adjtimex fail with EPERM', async () => {
    await t.box('clock');
    // The probe, static (a busybox rootfs has no libc), copied into the box's rootfs.
    const binary = join(makeTempDir(cleanup, 'clock-probe'), 'clock-probe');
    execFileSync('gcc', ['-static', '-O1', '-o', binary, join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'clock-probe.c')]);
    copyFileSync(binary, join(String(t.host.manager.get('clock').config.rootfs), 'clock-probe'));
    const before = Date.now();
    // busybox date says so and exits 0 all the same.
    const date = await t.exec('clock', 'date -s 2001-01-01');
    assert.match(date.stderr, /can't set date: Operation not permitted/);
    const run = await t.exec('clock', 'chmod 755 /clock-probe && /clock-probe');
    assert.equal(run.exitCode, 0, run.stderr);
    const probe = Object.fromEntries(
      run.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('=') as [string, string]),
    );
    assert.deepEqual(
      { settimeofday: probe.settimeofday, clock_settime: probe.clock_settime, adjtimex: probe.adjtimex, clock_adjtime: probe.clock_adjtime },
      { settimeofday: 'EPERM', clock_settime: 'EPERM', adjtimex: 'EPERM', clock_adjtime: 'EPERM' },
    );
    assert.equal(probe.adjtimex_read, 'ok', 'reading the clock state (adjtimex with no modes) still works');
    assert.ok(Math.abs(Date.now() - before) < 60_000, "the host's clock did not move");
  });
});
