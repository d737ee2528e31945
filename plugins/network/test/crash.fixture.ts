/**
 * Run in a child process by crash.slow-test.ts: opens the test's host (its state dir, whose
 * host.json points the network plugin at the test's namespaces), runs one operation on the
 * box `victim` and dies by SIGKILL at the point it is given — at a hook boundary (a plugin
 * that runs after network's hooks kills the process in its own), or inside the network
 * plugin's wire between two of its steps (a method of its service replaced by a kill).
 */

import { definePlugin, type HookName } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { LinuxBoxDriver } from '@nsbox/runtime';
import { Claims } from '../src/claims.js';
import { networkPlugin } from '../src/index.js';
import { NetworkService } from '../src/network-service.js';
import { Shaper } from '../src/shaping.js';

const [stateDir, cgroupParent, operation, point] = process.argv.slice(2) as [string, string, 'create' | 'start' | 'stop' | 'destroy', string];

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('not reached');
};

const hooks = Object.fromEntries(
  (['provision', 'validate', 'spec', 'prepare', 'configure', 'wire', 'started', 'stopping', 'stopped', 'destroy'] as HookName[]).map((hook) => [
    hook,
    () => {
      if (point === hook) die();
    },
  ]),
);
const crasher = definePlugin({
  name: 'crasher',
  version: '1.0.0',
  core: '^1.0.0',
  requires: { network: '*' },
  setup: () => ({ hooks }),
});

// Inside provision: once the address is claimed in the store, before the hook returns (its
// step never recorded as done).
if (point === 'provision:after-claim') {
  const claimNext = Claims.prototype.claimNext;
  Claims.prototype.claimNext = function (this: Claims, ...args: Parameters<Claims['claimNext']>) {
    claimNext.apply(this, args);
    return die();
  };
}
// Inside wire: after the veth, before the ifb; after the ifb, before the nft rules.
if (point === 'wire:before-shaping') Shaper.prototype.apply = die;
if (point === 'wire:before-rules') (NetworkService.prototype as unknown as { writeBoxRules: () => void }).writeBoxRules = die;

const host = await openHost({
  stateDir,
  discover: false,
  plugins: [networkPlugin, crasher],
  driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
});
if (operation === 'create')
  await host.manager.create({
    name: 'victim',
    config: { template: 'busybox', process: { args: ['sleep', '100000'] }, network: { mode: 'bridge', rate: '10mbit' } },
  });
if (operation === 'start') await host.manager.start('victim');
if (operation === 'stop') await host.manager.stop('victim', { timeoutMs: 0 });
if (operation === 'destroy') await host.manager.destroy('victim', { force: true });
console.error(`not reached: ${operation} should have died at ${point}`);
process.exit(3);
