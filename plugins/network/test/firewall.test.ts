/**
 * The per-box firewall on the real kernel, in the test's namespaces: a box with allow rules
 * is reached only from the sources (and ports) its rules name — from the outside namespace
 * and from other boxes on the bridge — while what it opens itself still gets answers; a rule
 * taken back closes again; the rules leave nft when the box stops, come back at its start and
 * go for good at destroy.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isNsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { listLinks } from '@nsbox/native';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { listRules } from '../src/index.js';
import { fetchFrom, makeTestNet, type NetTestHost, OUTSIDE, openNetHost, outsideServer, sleep, type TestNet } from './support.js';

const POOLS = [
  { name: 'v4', subnet: '10.233.0.0/24' },
  { name: 'v6', subnet: 'fd42:233::/64' },
];
const GUARDED = { v4: '10.233.0.10', v6: 'fd42:233::10' };
const FRIEND = '10.233.0.20';

/** Serves its name on 8080 and 9090. */
const twoPorts = ['sh', '-c', 'mkdir -p /tmp/www && echo guarded > /tmp/www/index.html && httpd -p 9090 -h /tmp/www && exec httpd -f -p 8080 -h /tmp/www'];

/** One GET from the outside namespace; true when the box answered. */
function fromOutside(net: TestNet, host: string, port: number): boolean {
  const answer = execFileSync('ip', ['netns', 'exec', net.outNs, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 ${host} ${port} || true`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return answer.includes('guarded');
}

/** Tries for a few seconds (a fresh IPv6 address passes duplicate address detection first). */
async function eventually(attempt: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let tries = 0; tries < 30; tries++) {
    if (await attempt()) return true;
    await sleep(200);
  }
  return false;
}

async function fromBox(t: NetTestHost, box: string, host: string, port: number): Promise<boolean> {
  const result = await t.exec(box, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${host} ${port}`);
  return result.stdout.includes('guarded');
}

/** The rules of the boxes' firewall chains (`guard-LINK`) in the test host namespace. */
function firewallChain(net: TestNet): Record<string, unknown>[] {
  return (listRules(net.hostPath, 'inet') ?? []).filter((rule) => String(rule.chain).startsWith('guard-'));
}

describe('network plugin: per-box firewall (real kernel, test network namespaces)', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network firewall tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
    // The outside knows the way to the pools through the test host: traffic to boxes without NAT.
    execFileSync('ip', ['-n', net.outNs, 'route', 'add', POOLS[0]?.subnet as string, 'via', OUTSIDE.host4]);
    execFileSync('ip', ['-n', net.outNs, 'route', 'add', POOLS[1]?.subnet as string, 'via', OUTSIDE.host6]);
    execFileSync('ip', ['-n', net.hostNs, 'route', 'add', 'default', 'via', OUTSIDE.out4]);
  });

  it('lets in only what the rules allow, from the outside and from other boxes, and keeps answers to what the box opened', async () => {
    outsideServer(cleanup, net, 8083);
    const t = await openNetHost(cleanup, net, { pools: POOLS });
    const api = new LocalBoxApi(t.host);
    await t.box('guarded', { mode: 'bridge', ip: [GUARDED.v4, GUARDED.v6] }, twoPorts);
    await t.box('friend', { mode: 'bridge', ip: [FRIEND] });
    await t.box('stranger');

    // Open before any rule: everyone reaches both ports (the control of every refusal below).
    await fetchFrom(t, 'stranger', { host: GUARDED.v4, port: 8080, path: '/' });
    assert.ok(await eventually(() => fromOutside(net, GUARDED.v4, 9090)), 'the outside reaches port 9090 of a box without rules');
    assert.ok(await eventually(() => fromOutside(net, GUARDED.v6, 8080)), 'and over IPv6');
    assert.ok(await fromBox(t, 'stranger', GUARDED.v4, 9090), 'a box reaches port 9090 of a box without rules');

    assert.deepEqual(await api.runAction('network', 'allow', { box: 'guarded', rule: `${OUTSIDE.out4}:8080` }), {
      box: 'guarded',
      allowed: '198.51.100.2/32:8080/tcp',
    });
    await api.runAction('network', 'allow', { box: 'guarded', rule: `${FRIEND}/32` });
    await assert.rejects(
      api.runAction('network', 'allow', { box: 'guarded', rule: '198.51.100.2/32:8080' }),
      (error: unknown) => isNsboxError(error) && error.code === 'E_ALREADY_EXISTS' && error.details?.field === 'rule',
    );
    await assert.rejects(
      api.runAction('network', 'allow', { box: 'guarded', rule: '10.0.0.0/99' }),
      (error: unknown) => isNsboxError(error) && error.details?.field === 'rule',
    );
    assert.deepEqual(await api.runAction('network', 'allow-list', { box: 'guarded' }), ['10.233.0.20/32', '198.51.100.2/32:8080/tcp']);

    assert.ok(fromOutside(net, GUARDED.v4, 8080), 'the outside reaches the allowed port');
    assert.ok(!fromOutside(net, GUARDED.v4, 9090), 'but not another one');
    assert.ok(!fromOutside(net, GUARDED.v6, 8080), 'nor over IPv6, which no rule allows');
    assert.ok(await fromBox(t, 'friend', GUARDED.v4, 9090), 'the friend box reaches every port');
    assert.ok(!(await fromBox(t, 'stranger', GUARDED.v4, 8080)), 'another box reaches none');
    // What the guarded box opens itself is answered.
    const peer = await fetchFrom(t, 'guarded', { host: OUTSIDE.out4, port: 8083, path: '/cgi-bin/peer' });
    assert.ok(peer.length > 0, 'the guarded box reaches the outside');
    const drop = firewallChain(net).find((rule) => JSON.stringify(rule.expr).includes('"drop"') && JSON.stringify(rule.expr).includes(GUARDED.v4));
    const dropped = (drop?.expr as { counter?: { packets: number } }[] | undefined)?.find((part) => part.counter)?.counter?.packets ?? 0;
    assert.ok(dropped > 0, `the drop rule counted the refused connections (${dropped})`);
    assert.ok(
      firewallChain(net).every((rule) => !JSON.stringify(rule.expr).includes('10.233.0.2"')),
      'boxes without rules have none in the chain',
    );

    // Taken back: the friend is refused too.
    await api.runAction('network', 'deny', { box: 'guarded', rule: `${FRIEND}` });
    assert.ok(!(await fromBox(t, 'friend', GUARDED.v4, 9090)), 'a rule taken back closes again');

    // Stopped: no rule in nft; started again: the rules are back.
    const boxMac = async () => (await t.exec('guarded', 'cat /sys/class/net/eth0/address')).stdout.trim();
    const bridgeMac = () => listLinks(net.hostPath).find((link) => link.name === net.bridge)?.address;
    const [macBefore, bridgeBefore] = [await boxMac(), bridgeMac()];
    await t.host.manager.stop('guarded', { timeoutMs: 0 });
    assert.deepEqual(firewallChain(net), [], "a stopped box's firewall rules leave nft");
    await t.host.manager.start('guarded');
    // The same MAC as before, on the box and on the bridge: the neighbour entries the checks above
    // left (the host's for the box, the box's for its gateway) still hold. With a new MAC the box
    // was unreachable until the host's entry went stale, 15 to 45 s later.
    assert.equal(await boxMac(), macBefore, 'the restarted box has the MAC it had');
    assert.equal(bridgeMac(), bridgeBefore, 'the bridge keeps its MAC while a port goes and comes');
    assert.ok(await eventually(() => fromOutside(net, GUARDED.v4, 8080)), 'after a restart the allowed port answers');
    assert.ok(!fromOutside(net, GUARDED.v4, 9090), 'and the rest is still closed');

    await t.host.manager.destroy('guarded', { force: true });
    assert.deepEqual(firewallChain(net), [], 'destroy drops the rules');
    const keys = t.host.store.pluginState.list('network').filter((entry) => entry.key.startsWith('fw:'));
    assert.deepEqual(keys, [], 'and their keys');
  });
});
