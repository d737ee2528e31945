/**
 * nsboxd as systemd runs it: the shipped nsboxd.service, installed (under a test unit name,
 * pointing at this tree, on a state dir and socket of the test's own) and started with
 * systemctl. `systemctl restart` must leave running boxes running, and on a systemd host each
 * box is a delegated scope of its own. Skips, saying so, where PID 1 is not systemd (this
 * machine); the VM lane's guest runs it.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxClient } from '@nsbox/client';
import type { Box } from '@nsbox/core';
import { isSameProcess, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { makeTempDir, repoRoot, requireRoot, useCleanup } from '@nsbox/testkit';
import { adminToken, cleanupBoxes, daemonArgs, testCgroupParent, writeTestHostConfig } from './daemon-fixture.js';

const shippedUnit = join(repoRoot, 'packages/daemon/nsboxd.service');

function systemctl(...args: string[]): string {
  return execFileSync('systemctl', args, { encoding: 'utf8' }).trim();
}

/**
 * The shipped unit with the lines an installer adjusts: ExecStart (this tree's nsboxd, from
 * source), and a state dir, socket and cgroup parent of the test's instead of the host's.
 * Every other line (KillMode, Delegate, limits...) is the one users install.
 */
function testUnitText(input: { stateDir: string; socketPath: string; cgroupParent: string }): string {
  const execStart = [process.execPath, ...daemonArgs(input)].join(' ');
  const lines = readFileSync(shippedUnit, 'utf8')
    .split('\n')
    .filter((line) => !/^(RuntimeDirectory|StateDirectory)/.test(line))
    .map((line) => (line.startsWith('ExecStart=') ? `ExecStart=${execStart}` : line));
  const service = lines.indexOf('[Service]');
  assert.ok(service >= 0 && lines.some((line) => line.startsWith('ExecStart=')), `${shippedUnit} has a [Service] with ExecStart`);
  lines.splice(service + 1, 0, `Environment=NSBOX_CGROUP_PARENT=${input.cgroupParent}`, `WorkingDirectory=${repoRoot}`);
  return lines.join('\n');
}

describe('nsboxd under systemd (nsboxd.service)', function () {
  this.timeout(240_000);
  const cleanup = useCleanup();
  let unit: string;
  let client: NsboxClient;
  let socketPath: string;
  let stateDir: string;

  before(function () {
    requireRoot(this, 'installing a systemd unit');
    if (!existsSync('/run/systemd/system')) {
      console.log('      skipped: PID 1 is not systemd (the VM lane runs this suite)');
      this.skip();
    }
  });

  async function waitForHealth(): Promise<void> {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const probe = new NsboxClient({ socketPath, timeoutMs: 5000 });
      const up = await probe.health().then(
        () => true,
        () => false,
      );
      probe.close();
      if (up) return;
      assert.ok(
        Date.now() < deadline,
        `${unit} did not answer on ${socketPath}: ${spawnSync('systemctl', ['status', '--no-pager', unit], { encoding: 'utf8' }).stdout}`,
      );
      await sleep(200);
    }
  }

  beforeEach(async () => {
    const dir = makeTempDir(cleanup, 'nsboxd-unit');
    stateDir = join(dir, 'state');
    socketPath = join(dir, 'nsbox.sock');
    const cgroupParent = testCgroupParent();
    writeTestHostConfig(stateDir);
    cleanupBoxes(cleanup, stateDir, cgroupParent);
    unit = `nsbox-test-${randomBytes(4).toString('hex')}.service`;
    // /run/systemd/system: a unit that a reboot forgets, like the test.
    const unitFile = join('/run/systemd/system', unit);
    writeFileSync(unitFile, testUnitText({ stateDir, socketPath, cgroupParent }));
    cleanup.add(`remove ${unit}`, () => {
      spawnSync('systemctl', ['stop', unit]);
      rmSync(unitFile, { force: true });
      spawnSync('systemctl', ['daemon-reload']);
      spawnSync('systemctl', ['reset-failed', unit]);
    });
    systemctl('daemon-reload');
    systemctl('start', unit);
    await waitForHealth();
    client = new NsboxClient({ socketPath, token: adminToken(stateDir), timeoutMs: 120_000 });
    cleanup.add('close the client', () => client.close());
  });

  function init(box: Box): LinuxRuntimeFacts['init'] {
    return (box.runtime as LinuxRuntimeFacts).init;
  }

  it('keeps running boxes running through systemctl restart nsboxd, each box a delegated scope of its own', async () => {
    const created = await client.boxes.create({ name: 'steady', config: { template: 'busybox', process: { args: ['sleep', '100000'] } }, start: true });
    const started = await created.wait().catch((error: Error) => {
      // What nsboxd logged is the part of the story the API error leaves out.
      const journal = spawnSync('journalctl', ['--no-pager', '-u', unit, '-n', '50'], { encoding: 'utf8' }).stdout;
      throw new Error(`${error.message}\n--- journal of ${unit} ---\n${journal}`);
    });
    assert.equal(started.state, 'running');
    const before = init(started);
    assert.ok(before && isSameProcess(before), 'the box runs');
    const cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${before.pid}/cgroup`, 'utf8'))?.[1] ?? '';
    const scope = /\/([^/]+\.scope)\/box$/.exec(cgroup)?.[1];
    assert.ok(scope, `the box's init is in a scope's box/ cgroup (it is in ${cgroup})`);
    assert.equal(systemctl('show', '--property', 'Delegate', '--value', scope), 'yes');
    assert.notEqual(cgroup, systemctl('show', '--property', 'ControlGroup', '--value', unit), 'not in the cgroup of nsboxd.service');
    const mainPid = systemctl('show', '--property', 'MainPID', '--value', unit);

    systemctl('restart', unit);
    await waitForHealth();
    assert.notEqual(systemctl('show', '--property', 'MainPID', '--value', unit), mainPid, 'a new nsboxd');
    assert.ok(isSameProcess(before), 'the same init, still running');
    const after = await client.boxes.get('steady');
    assert.equal(after.state, 'running');
    assert.equal(init(after)?.pid, before.pid);
    assert.equal((await client.boxes.exec('steady', { command: ['echo', 'alive'] })).stdout, 'alive\n');
    assert.equal(systemctl('show', '--property', 'ActiveState', '--value', scope), 'active');

    await client.boxes.destroy('steady', { force: true });
    assert.ok(!isSameProcess(before));
    assert.equal(systemctl('show', '--property', 'LoadState', '--value', scope), 'not-found', 'destroy stops and forgets the scope');
  });
});
