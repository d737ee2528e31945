/**
 * 200 bridged boxes on one bridge (the figure; NSBOX_NET_BOXES changes it): each gets
 * its own address, the first and the last reach each other, every box has its anti-spoofing
 * rules (the nft batch, one file, stays under no argument limit), and after destroying them
 * no veth, rule or claim is left.
 */

import assert from 'node:assert/strict';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { makeTestNet, natRules, openNetHost, spoofRules, type TestNet } from './support.js';

const COUNT = Number(process.env.NSBOX_NET_BOXES ?? 200);

describe('network plugin: many boxes on one bridge (real kernel, test network namespaces)', function () {
  this.timeout(1_200_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network many-boxes test');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  it(`starts ${COUNT} bridged boxes with distinct addresses that reach each other, and leaves nothing after`, async () => {
    const t = await openNetHost(cleanup, net, { pools: [{ name: 'big', subnet: '10.237.0.0/22' }] });
    for (let index = 0; index < COUNT; index++) await t.box(`m${index}`);
    const claims = t.claims();
    assert.equal(Object.keys(claims).length, COUNT, 'one address per box');
    assert.equal(new Set(Object.values(claims)).size, COUNT, 'no address handed out twice');
    assert.equal(t.boxLinks().length, COUNT);
    assert.equal(spoofRules(net).length, COUNT * 4, 'IPv4, ARP, IPv6 and neighbour-advertisement rules of every box');
    const last = Object.entries(claims).find(([, box]) => box === t.host.manager.get(`m${COUNT - 1}`).id)?.[0] as string;
    const ping = await t.exec('m0', `ping -c 1 -W 2 ${last}`);
    assert.equal(ping.exitCode, 0, `the first box reaches the last (${last}): ${ping.stdout}`);

    for (const box of t.host.manager.list()) await t.host.manager.destroy(box.id, { force: true });
    assert.deepEqual(t.boxLinks(), []);
    assert.deepEqual(t.claims(), {});
    assert.deepEqual(spoofRules(net), []);
    assert.deepEqual(natRules(net), ['10.237.0.0/22']);
  });
});
