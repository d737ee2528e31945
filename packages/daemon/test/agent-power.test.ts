/**
 * Reboot from inside with the resident agent of a real nsboxd and the virtualisation plugin's
 * exit policy: a reboot while nsboxd is down is carried out by the next one; the delayed
 * restarts of a reboot loop (backoff) come from the agent's own timers, and the loop is given
 * up with the reason.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { type AgentStateDir, boxState, exitRecord, historyOf, spawnNsboxd, until } from './agent/agent-support.js';
import { adminToken, cleanupBoxes, testCgroupParent, writeTestHostConfig } from './daemon-fixture.js';

/** An init that runs `how` the first time the box runs, and sleeps after a restart. */
function onceThen(how: string): string[] {
  return ['sh', '-c', `if [ -e /ran-before ]; then exec sleep 1000; fi; touch /ran-before; ${how}; sleep 100`];
}

describe('the resident agent: reboot from inside, with the virtualisation plugin', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'the resident agent with real boxes');
  });

  function stateDir(): AgentStateDir {
    const dir = makeTempDir(cleanup, 'agent-power');
    const state = join(dir, 'state');
    writeTestHostConfig(state, { plugins: ['@nsbox/plugin-isolation', '@nsbox/plugin-limits', '@nsbox/plugin-virtualisation'] });
    const cgroupParent = testCgroupParent();
    cleanupBoxes(cleanup, state, cgroupParent);
    return { stateDir: state, cgroupParent, journal: join(dir, 'unused.jsonl'), dir };
  }

  async function api(state: AgentStateDir, name: string) {
    const socketPath = join(state.dir, `${name}.sock`);
    const nsboxd = await spawnNsboxd(cleanup, state, { socketPath });
    const client = new NsboxClient({ socketPath, token: adminToken(state.stateDir) });
    cleanup.add('close the client', () => client.close());
    return { nsboxd, client };
  }

  it('carries out a reboot that happened while nsboxd was down when the next nsboxd starts', async () => {
    const state = stateDir();
    const first = await api(state, 'first');
    const created = await (
      await first.client.boxes.create({ name: 'downtime', config: { template: 'busybox', process: { args: onceThen('sleep 1.5; reboot -f') } }, start: true })
    ).wait();
    const firstInit = (boxState(state, 'downtime')?.runtime.init as { pid: number } | undefined)?.pid;
    assert.ok(firstInit);
    first.nsboxd.child.kill('SIGKILL');
    await first.nsboxd.exited;
    const exit = await until('the reboot (the shim records it)', () => exitRecord(state, created.id), 10_000);
    assert.equal(exit.signal, 1, 'reboot(2) ended the init with SIGHUP');
    assert.equal(boxState(state, 'downtime')?.state, 'running', 'nobody noticed yet');

    await spawnNsboxd(cleanup, state, { socketPath: join(state.dir, 'second.sock') });
    // nsboxd says it is up after its reconcile and first sweep: the box is back by then.
    const back = boxState(state, 'downtime');
    assert.equal(back?.state, 'running');
    assert.notEqual((back?.runtime.init as { pid: number } | undefined)?.pid, firstInit);
    assert.deepEqual(
      historyOf(state, created.id, 'state.stopped').map((event) => event.data.reason),
      ['reboot'],
    );
    assert.equal(historyOf(state, created.id, 'box.rebooted').length, 1);
  });

  it("restarts a reboot loop on the agent's timers with growing delays, then leaves it stopped with the reason", async () => {
    const state = stateDir();
    const { client } = await api(state, 'loop');
    const restarts = { max: 3, backoffMs: 400, stableMs: 60_000 };
    const created = await (
      await client.boxes.create({
        name: 'loop',
        config: { template: 'busybox', process: { args: ['sh', '-c', 'sleep 0.3; reboot -f; sleep 100'] }, virtualisation: { restarts } },
        start: true,
      })
    ).wait();
    const given = await until('the loop to be given up', () => historyOf(state, created.id, 'box.not-restarted')[0], 30_000);
    assert.match(String(given.data.why), /^reboot loop: 3 restarts in a row/);
    assert.equal(boxState(state, 'loop')?.state, 'stopped');
    assert.match(String(boxState(state, 'loop')?.runtime.stopReason), /reboot loop/);
    assert.deepEqual(
      historyOf(state, created.id, 'box.restart-scheduled').map((event) => event.data.delayMs),
      [400, 800],
    );
    const stops = historyOf(state, created.id, 'state.stopped').map((event) => event.time);
    const restarting = historyOf(state, created.id, 'box.restarting').map((event) => event.time);
    for (const [index, delay] of [0, 400, 800].entries()) {
      const waited = (restarting[index] as number) - (stops[index] as number);
      // The agent's timer fires at the due time: not before, and not a sweep (5 s) later.
      assert.ok(waited >= delay && waited < delay + 2000, `restart ${index + 1} waited ${waited} ms for a delay of ${delay} ms`);
    }
  });
});
