/**
 * The slower checks of a debian-12 box with systemd (npm run test:slow): a reboot from inside
 * (`systemctl reboot`) brings it back as a new boot — a new init, both boots in its persistent
 * journal, uptime from zero — with the reboot time measured; `systemctl poweroff` leaves it
 * stopped; several boots in a row settle to `running` each time. Figures printed and asserted.
 */

import assert from 'node:assert/strict';
import type { Box } from '@nsbox/core';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { debianRootfs, run, systemState } from './debian-box.js';
import { openVirtHost, sleep, type VirtTestHost, waitFor } from './support.js';

describe('virtualisation: a debian-12 box reboots and powers off from inside (slow)', function () {
  this.timeout(20 * 60_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'booting systemd in a real box');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  /** What the resident agent does: settle the init's end and restart as the policy says. */
  async function settleUntil(name: string, done: (box: Box) => boolean, timeoutMs = 60_000): Promise<Box> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let box = await t.host.manager.sync(name);
      if (box.state === 'stopped' && box.runtime.pendingRestart) box = await t.host.manager.restartDue(name);
      if (done(box)) return box;
      if (Date.now() > deadline) throw new Error(`box ${name} is ${box.state}`);
      await sleep(20);
    }
  }

  it('reboots with `systemctl reboot` into a new boot (measured), and stays stopped after `systemctl poweroff`', async () => {
    await t.host.manager.create({ name: 'debr', config: { rootfs: await debianRootfs(cleanup) } });
    const box = () => t.host.manager.get('debr');
    const initOf = () => (box().runtime as LinuxRuntimeFacts).init?.pid;
    const started = Date.now();
    await t.host.manager.start('debr');
    assert.equal((await systemState(t.driver, box, started)).state, 'running');
    // The kernel's boot id is the host's (one kernel): journald keeps both boots under it.
    const startups = async () => Number((await run(t.driver, box(), 'journalctl --no-pager -o cat | grep -c "Startup finished"')).stdout.trim());
    assert.equal(await startups(), 1);
    const firstInit = initOf();
    // A line in the box's kernel log, which journald takes into the journal.
    const kernelLine = async () => Number((await run(t.driver, box(), 'journalctl -k --no-pager -o cat | grep -c "written in the first boot"')).stdout.trim());
    await run(t.driver, box(), 'echo "<5>nsbox-box-line: written in the first boot" > /dev/kmsg');
    assert.ok(await waitFor(async () => (await kernelLine()) === 1, 10_000, 200), 'journald has the kernel line');

    const asked = Date.now();
    // systemctl returns before the shutdown ends the exec's process: its exit code says nothing.
    await run(t.driver, box(), 'systemctl reboot').catch(() => undefined);
    await settleUntil('debr', (candidate) => candidate.state === 'running' && initOf() !== firstInit);
    const backMs = Date.now() - asked;
    const { state, ms: rebootMs } = await systemState(t.driver, box, asked);
    console.log(`      systemctl reboot: a new init after ${backMs} ms, '${state}' after ${rebootMs} ms`);
    assert.equal(state, 'running');
    assert.ok(rebootMs < 60_000);
    assert.equal(t.host.manager.history({ boxId: box().id, kind: 'box.rebooted' }).length, 1);
    assert.equal(t.host.manager.history({ boxId: box().id, kind: 'state.stopped' })[0]?.data.reason, 'reboot');
    assert.equal(await startups(), 2, 'the persistent journal has both boots');
    // The new boot's kernel log starts empty, as a kernel's does: journald, which reads the box's
    // /dev/kmsg from its start at each boot, did not take the first boot's line a second time.
    assert.equal(await kernelLine(), 1, "the first boot's kernel line once in the journal");
    const uptime = Number.parseFloat((await run(t.driver, box(), 'cut -d" " -f1 /proc/uptime')).stdout);
    assert.ok(uptime * 1000 <= rebootMs + 1000, `uptime ${uptime} s counts from the reboot`);

    await run(t.driver, box(), 'systemctl poweroff').catch(() => undefined);
    const off = await settleUntil('debr', (candidate) => candidate.state === 'stopped');
    await sleep(500);
    assert.equal((await t.host.manager.sync('debr')).state, 'stopped');
    assert.equal(t.host.manager.history({ boxId: off.id, kind: 'state.stopped' }).at(-1)?.data.reason, 'halt');
    assert.equal(t.host.manager.history({ boxId: off.id, kind: 'box.rebooted' }).length, 1);
  });
});
