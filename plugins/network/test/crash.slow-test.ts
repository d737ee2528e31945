/**
 * A crash at every step of a bridged box's create, start, stop and destroy: a child process
 * runs the operation and dies by SIGKILL at one point (crash.fixture.ts); a new host's
 * reconcile then leaves no veth, ifb, anti-spoofing or firewall rule, forward or address
 * claim that the box's state does not call for — and the box starts again afterwards.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBoxApi } from '@nsbox/host';
import { listLinks } from '@nsbox/native';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { listRules } from '../src/index.js';
import { makeTestNet, type NetTestHost, natRules, openNetHost, spoofRules, type TestNet } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const POOL = { name: 'v4', subnet: '10.236.0.0/24' };

/** Operation → the points it is killed at (hooks in the order they run, inside provision and inside wire). */
const POINTS: [operation: 'create' | 'start' | 'stop' | 'destroy', point: string][] = [
  ['create', 'validate'],
  ['create', 'provision'],
  ['create', 'provision:after-claim'],
  ['start', 'validate'],
  ['start', 'spec'],
  ['start', 'prepare'],
  ['start', 'configure'],
  ['start', 'wire:before-shaping'],
  ['start', 'wire:before-rules'],
  ['start', 'wire'],
  ['start', 'started'],
  ['stop', 'stopping'],
  ['stop', 'stopped'],
  ['destroy', 'stopped'],
  ['destroy', 'destroy'],
];

/** What the network plugin left in the test host namespace and its state. */
function leftovers(t: NetTestHost, net: TestNet) {
  const state = t.host.store.pluginState.list('network').map((entry) => entry.key.replace(/:.*/, ':'));
  return {
    links: listLinks(net.hostPath)
      .map((link) => link.name)
      .filter((name) => /^ns[bi][0-9a-f]{12}$/.test(name)),
    spoof: spoofRules(net),
    firewall: (listRules(net.hostPath, 'inet') ?? []).filter((rule) => /^(guard|spoof)-/.test(String(rule.chain))).length,
    dnat: natRules(net).filter((rule) => rule.includes('dnat')).length,
    claims: Object.keys(t.claims()).length,
    // The host's own keys (its pools, bridge and id) are no box's.
    keys: [...new Set(state.filter((key) => key !== 'pool:' && key !== 'bridge:' && key !== 'host-id'))].sort(),
  };
}

describe('network plugin: a crash at every step is repaired by reconcile (real kernel, test network namespaces)', function () {
  this.timeout(600_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network crash tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  for (const [operation, point] of POINTS) {
    it(`${operation}, killed at ${point}`, async () => {
      const stateDir = makeTempDir(cleanup, 'state');
      const cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
      const open = () => openNetHost(cleanup, net, { stateDir, cgroupParent, pools: [POOL] });
      let t = await open();
      if (operation !== 'create') {
        await t.box('victim', { mode: 'bridge', rate: '10mbit' });
        const api = new LocalBoxApi(t.host);
        await api.runAction('network', 'allow', { box: 'victim', rule: '10.0.0.0/8:80' });
        await api.runAction('network', 'forward-add', { box: 'victim', forward: '18090:80' });
        if (operation === 'start') await t.host.manager.stop('victim', { timeoutMs: 0 });
      }
      t.host.close();

      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--conditions=source', join(here, 'crash.fixture.ts'), stateDir, cgroupParent, operation, point],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(child.signal, 'SIGKILL', `the fixture should die by SIGKILL at ${point}: ${child.stderr}`);

      t = await open();
      await t.host.manager.reconcile();
      const box = t.host.manager.list().find((candidate) => candidate.name === 'victim');
      const left = leftovers(t, net);
      // `destroy --force` of a running box stops it first, as its own operation: killed in that
      // stop, the box rests stopped (the destroy never began).
      if (operation === 'create' || (operation === 'destroy' && point === 'destroy')) {
        // A create rolled back or a destroy finished: the box and everything of it are gone.
        assert.equal(box, undefined, `no box after a ${operation} killed at ${point}`);
        assert.deepEqual(left, { links: [], spoof: [], firewall: 0, dnat: 0, claims: 0, keys: [] });
        return;
      }
      // A start rolled back, a stop finished: the box rests, keeping its claims, rules and forwards in the state only.
      assert.ok(box && (box.state === 'stopped' || box.state === 'created'), `the box rests (${box?.state})`);
      assert.deepEqual(left, { links: [], spoof: [], firewall: 0, dnat: 2, claims: 1, keys: ['addr:', 'fw:', 'fwd:'] });
      // And it starts again, wired, shaped and firewalled as before.
      await t.host.manager.start('victim');
      const again = leftovers(t, net);
      assert.equal(again.links.length, 2, 'veth host end and ifb');
      assert.ok(again.firewall > 0, 'its firewall and anti-spoofing rules are back');
    });
  }
});
