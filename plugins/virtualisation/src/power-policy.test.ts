import assert from 'node:assert/strict';
import type { Box, BoxExitInfo } from '@nsbox/core';
import { memoryPluginState as memoryState } from '@nsbox/testkit';
import { virtualisationConfigSchema } from './config-schema.js';
import { backoffDelay, PowerPolicy } from './power-policy.js';
import { defaultRestartLimit } from './power-schema.js';

const box = (startedAt: number): Box => ({
  id: 'b1',
  name: 'b1',
  owner: null,
  config: {},
  state: 'stopped',
  runtime: { startedAt },
  createdAt: 0,
  updatedAt: 0,
});
const reboot: BoxExitInfo = { reason: 'reboot', signal: 1 };

describe('virtualisation: the power policy (reboot, halt, restarts in a row)', () => {
  it('doubles the delay from the second restart in a row, up to the longest', () => {
    const limit = { ...defaultRestartLimit, backoffMs: 100, maxBackoffMs: 700 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((index) => backoffDelay(index, limit)),
      [0, 100, 200, 400, 700, 700],
    );
  });

  it('restarts a reboot loop with backoff, then leaves it stopped with the reason, and a new series starts from zero', () => {
    const policy = new PowerPolicy(memoryState());
    const config = { restarts: { max: 3, backoffMs: 100, stableMs: 10_000 } };
    const decide = (now: number) => policy.decide({ box: box(now - 500), exit: reboot, config, restartByDefault: true, now });
    assert.deepEqual(decide(1000), { restart: true, delayMs: 0 });
    assert.deepEqual(decide(2000), { restart: true, delayMs: 100 });
    assert.deepEqual(decide(3000), { restart: true, delayMs: 200 });
    const given = decide(4000);
    assert.equal(given?.restart, false);
    assert.match((given as { reason: string }).reason, /^reboot loop: 3 restarts in a row, none ran 10000 ms/);
    assert.deepEqual(decide(5000), { restart: true, delayMs: 0 }, 'a start by hand after it was given up begins anew');
  });

  it('ends the series after a run of stableMs or longer', () => {
    const policy = new PowerPolicy(memoryState());
    const config = { restarts: { max: 2, stableMs: 1000 } };
    const decide = (ranMs: number) => policy.decide({ box: box(10_000 - ranMs), exit: reboot, config, restartByDefault: true, now: 10_000 });
    assert.equal(decide(10)?.restart, true);
    assert.equal(decide(10)?.restart, true);
    assert.deepEqual(decide(1000), { restart: true, delayMs: 0 }, 'a stable run: immediate again');
  });

  it("leaves a rebooted box stopped under onReboot 'stop', and leaves exits the core would not restart to the core", () => {
    const state = memoryState();
    const policy = new PowerPolicy(state);
    const stop = policy.decide({ box: box(0), exit: reboot, config: { onReboot: 'stop' }, restartByDefault: true, now: 1 });
    assert.deepEqual(stop, { restart: false, reason: "the box rebooted and its policy is onReboot 'stop'" });
    assert.equal(policy.decide({ box: box(0), exit: { reason: 'halt', signal: 2 }, config: {}, restartByDefault: false, now: 1 }), undefined);
    assert.equal(policy.decide({ box: box(0), exit: { reason: 'exit', exitCode: 0 }, config: undefined, restartByDefault: false, now: 1 }), undefined);
    const crash = policy.decide({ box: box(0), exit: { reason: 'exit', exitCode: 3 }, config: undefined, restartByDefault: true, now: 1 });
    assert.deepEqual(crash, { restart: true, delayMs: 0 }, "a crash the core's restart field restarts counts in the series too");
    assert.equal(state.data.size, 1);
    policy.forget('b1');
    assert.equal(state.data.size, 0);
  });

  it('refuses bad power fields naming them, and keeps a section without them as given', () => {
    const issues = (value: unknown) => virtualisationConfigSchema.safeParse(value).error?.issues.map((issue) => issue.path.join('.')) ?? [];
    assert.deepEqual(issues({ onReboot: 'later' }), ['onReboot']);
    assert.deepEqual(issues({ restarts: { max: 0 } }), ['restarts.max']);
    assert.deepEqual(issues({ restarts: { backoffMs: -1 } }), ['restarts.backoffMs']);
    assert.deepEqual(issues({ restarts: { forever: true } }), ['restarts']);
    assert.deepEqual(virtualisationConfigSchema.parse({ onReboot: 'stop' }), {
      sysinfo: true,
      procViews: true,
      kernelLog: true,
      quota: true,
      timeNamespace: true,
      onReboot: 'stop',
    });
  });
});
