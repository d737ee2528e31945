/**
 * Bridged boxes on the real kernel, inside a test "host" network namespace with a second one
 * standing for the outside world (test/support.ts): boxes reach each other over IPv4 and IPv6,
 * reach the outside through NAT and are reached through port forwards, cannot send from an
 * address they do not hold, keep their addresses across a restart, free them at destroy, and
 * leave no veth, nft rule or claim behind.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { boxInfoPoint, isNsboxError, metricsPoint } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { listLinks, netlink } from '@nsbox/native';
import { runtimeFacts } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { listRules } from '../src/index.js';
import {
  fetchFrom,
  makeTestNet,
  type NetTestHost,
  natRules,
  OUTSIDE,
  openNetHost,
  outsideServer,
  sleep,
  spoofRules,
  type TestNet,
  webServer,
} from './support.js';

const POOLS = [
  { name: 'v4', subnet: '10.231.0.0/24' },
  { name: 'v6', subnet: 'fd42:231::/64' },
];

/** After every test's boxes are gone: no veth host end, no claim, one masquerade rule per pool. */
async function assertNothingLeft(t: NetTestHost, net: TestNet, pools: number): Promise<void> {
  for (const box of t.host.manager.list()) await t.host.manager.destroy(box.id, { force: true });
  assert.deepEqual(t.boxLinks(), [], 'no veth host end is left');
  assert.deepEqual(t.claims(), {}, 'no address claim is left');
  assert.equal(natRules(net).length, pools, 'the NAT table holds one rule per pool, no forward and nothing per box');
  assert.deepEqual(spoofRules(net), [], 'no anti-spoofing rule is left');
}

describe('network plugin: bridged boxes (real kernel, test network namespaces)', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network plugin tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  it('gives two boxes eth0 with an address of each pool, and they reach each other over IPv4 and IPv6', async () => {
    const t = await openNetHost(cleanup, net, { pools: POOLS });
    await t.box('web', undefined, webServer('from-web'));
    await t.box('client', { mode: 'bridge', ip: ['10.231.0.50', 'fd42:231::50/64'] });
    const web = t.host.manager.get('web');
    const client = t.host.manager.get('client');
    assert.deepEqual(t.claims(), { '10.231.0.2': web.id, 'fd42:231::2': web.id, '10.231.0.50': client.id, 'fd42:231::50': client.id });

    assert.equal(await fetchFrom(t, 'client', { host: '10.231.0.2', port: 8080, path: '/' }), 'from-web');
    assert.equal(await fetchFrom(t, 'client', { host: 'fd42:231::2', port: 8080, path: '/' }), 'from-web');

    const inside = await t.exec('client', 'ip -o addr show dev eth0; ip route; ip -6 route; cat /etc/resolv.conf /etc/hosts; ip -o link show lo');
    assert.match(inside.stdout, /inet 10\.231\.0\.50\/24/);
    assert.match(inside.stdout, /inet6 fd42:231::50\/64/);
    assert.match(inside.stdout, /default via 10\.231\.0\.1 dev eth0/);
    assert.match(inside.stdout, /default via fd42:231::1 dev eth0/);
    assert.match(inside.stdout, new RegExp(`nameserver ${OUTSIDE.out4.replace(/\./g, '\\.')}`));
    assert.match(inside.stdout, /10\.231\.0\.50\s+client/);
    assert.match(inside.stdout, /lo: <LOOPBACK,UP/);

    // The host ends are on the test's bridge, in the test's namespace — none in the machine's own.
    const links = listLinks(net.hostPath);
    const bridge = links.find((link) => link.name === net.bridge);
    assert.equal(bridge?.kind, 'bridge');
    for (const box of [web, client]) assert.equal(links.find((link) => link.name === t.link(box.id))?.master, bridge?.index);
    assert.ok(!listLinks().some((link) => link.name === t.link(web.id)), "nothing in this process's own namespace");

    const [info] = await Promise.all(
      t.host.plugins
        .contributions(boxInfoPoint)
        .filter((c) => c.section === 'network')
        .map((c) => c.describe(client)),
    );
    assert.deepEqual((info as { addresses: string[] }).addresses.sort(), ['10.231.0.50/24', 'fd42:231::50/64']);
    const samples = (await Promise.all(t.host.plugins.contributions(metricsPoint).map((c) => c.collect([client])))).flat();
    const sent = samples.find((sample) => sample.name === 'nsbox_box_network_transmit_packets_total');
    assert.ok((sent?.value ?? 0) > 0, `the client's packets are counted (${sent?.value})`);

    // Anti-spoofing: the box's root adds an address that is not its own and sends from it: dropped on the bridge.
    const clientLink = t.link(client.id);
    assert.deepEqual(
      spoofRules(net).filter((rule) => rule.startsWith(clientLink)),
      [`${clientLink} ip`, `${clientLink} arp`, `${clientLink} ip6`, `${clientLink} nd`],
    );
    const clientNetns = `/proc/${runtimeFacts(client).init?.pid}/ns/net`;
    netlink(clientNetns, [{ op: 'addr-add', dev: 'eth0', address: '10.231.0.99', prefix: 32 }]);
    const own = await t.exec('client', 'ping -c 1 -W 2 -I 10.231.0.50 10.231.0.2');
    assert.equal(own.exitCode, 0, `a ping from the box's own address gets through: ${own.stdout}${own.stderr}`);
    const spoofed = await t.exec('client', 'ping -c 2 -W 1 -I 10.231.0.99 10.231.0.2');
    assert.notEqual(spoofed.exitCode, 0, 'a ping from an address the box does not hold is dropped');
    assert.match(spoofed.stdout, /2 packets transmitted, 0 packets received/);
    // The control: with the bridge's anti-spoofing rules gone, the same spoofed ping is answered.
    execFileSync('ip', ['netns', 'exec', net.hostNs, 'nft', 'flush', 'chain', 'bridge', 'nsbox', 'prerouting']);
    const unprotected = await t.exec('client', 'ping -c 2 -W 1 -I 10.231.0.99 10.231.0.2');
    assert.match(unprotected.stdout, /2 packets transmitted, 2 packets received/, 'without the rules the spoofed source gets through');

    await t.host.manager.stop('web', { timeoutMs: 0 });
    assert.deepEqual(t.boxLinks(), [t.link(client.id)], "a stopped box's veth is gone");
    assert.equal(t.claims()['10.231.0.2'], web.id, 'a stopped box keeps its addresses');
    await assertNothingLeft(t, net, 2);
  });

  it('reaches a server in the outside namespace through NAT (masquerade in the inet nsbox table only)', async () => {
    execFileSync('ip', ['-n', net.hostNs, 'route', 'add', 'default', 'via', OUTSIDE.out4]);
    const otherTable = 'nsbt_other';
    execFileSync('ip', ['netns', 'exec', net.hostNs, 'nft', 'add', 'table', 'ip', otherTable]);
    outsideServer(cleanup, net, 8081);
    const t = await openNetHost(cleanup, net, { pools: [POOLS[0] as (typeof POOLS)[0]] });
    await t.box('nat');
    // busybox httpd listens on IPv6 and shows an IPv4 peer as [::ffff:a.b.c.d].
    const peer = (await fetchFrom(t, 'nat', { host: OUTSIDE.out4, port: 8081, path: '/cgi-bin/peer' })).replace(/^\[::ffff:(.*)\]$/, '$1');
    assert.equal(peer, OUTSIDE.host4, "the outside saw the host's address, not the box's");
    assert.deepEqual(natRules(net), ['10.231.0.0/24']);
    const tables = execFileSync('ip', ['netns', 'exec', net.hostNs, 'nft', 'list', 'tables'], { encoding: 'utf8' });
    assert.match(tables, new RegExp(`table ip ${otherTable}`), 'a table nsbox does not own is left alone');
    await assertNothingLeft(t, net, 1);
  });

  it('writes resolv.conf and hosts into the root a disk-limited box runs on (its image), not the rootfs beneath it', async () => {
    const t = await openNetHost(cleanup, net, { pools: [POOLS[0] as (typeof POOLS)[0]], withLimits: true });
    const box = await t.box('disky', undefined, undefined, { limits: { disk: '64M' } });
    const facts = runtimeFacts(box);
    assert.ok(facts.root && facts.rootfs && facts.root !== facts.rootfs, `the box runs on its image's mount: ${JSON.stringify(facts)}`);
    const inside = await t.exec('disky', 'cat /etc/resolv.conf /etc/hosts');
    assert.equal(inside.exitCode, 0, inside.stderr);
    assert.match(inside.stdout, new RegExp(`^nameserver ${OUTSIDE.out4.replace(/\./g, '\\.')}$`, 'm'), `the box's resolv.conf: ${inside.stdout}`);
    assert.match(inside.stdout, /^10\.231\.0\.2\s+disky$/m, 'its hosts file names its address');
  });

  it('forwards a host port to a box over IPv4 and IPv6, refuses a port forwarded twice, and drops the rules at destroy', async () => {
    const t = await openNetHost(cleanup, net, { pools: POOLS });
    const api = new LocalBoxApi(t.host);
    await t.box('site', undefined, webServer('from-site'));
    await t.box('other');
    assert.deepEqual(await api.runAction('network', 'forward-add', { box: 'site', forward: '18080:8080' }), { box: 'site', forward: '18080:8080/tcp' });
    await assert.rejects(
      api.runAction('network', 'forward-add', { box: 'other', forward: '18080:80' }),
      (error: unknown) => isNsboxError(error) && error.code === 'E_ALREADY_EXISTS' && error.details?.field === 'forward',
    );
    await assert.rejects(
      api.runAction('network', 'forward-add', { box: 'other', forward: '70000:80' }),
      (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT' && error.details?.field === 'forward',
    );
    // From the outside namespace to the host's uplink addresses: DNAT to the box, answers back through conntrack.
    for (const target of [OUTSIDE.host4, OUTSIDE.host6]) {
      let answer = '';
      for (let attempt = 0; attempt < 20 && !answer.includes('from-site'); attempt++) {
        answer = execFileSync('ip', ['netns', 'exec', net.outNs, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${target} 18080 || true`], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        if (!answer.includes('from-site')) await sleep(100);
      }
      assert.match(answer, /from-site/, `the box answered through ${target}:18080`);
    }
    assert.equal(natRules(net).filter((rule) => rule.includes('dnat')).length, 4, 'prerouting and output, IPv4 and IPv6');
    await t.host.manager.destroy('site', { force: true });
    assert.deepEqual(
      natRules(net).filter((rule) => rule.includes('dnat')),
      [],
      "a destroyed box's forwards are gone",
    );
    assert.deepEqual(await api.runAction('network', 'forward-add', { box: 'other', forward: '18080:8080' }), { box: 'other', forward: '18080:8080/tcp' });
    await assertNothingLeft(t, net, 2);
    assert.deepEqual(natRules(net), ['10.231.0.0/24', 'fd42:231::/64'], 'the forward of the destroyed box went with it');
  });

  it('routes boxes venet-style: /32 and /128 host routes, they reach each other and the outside, and see no L2 of each other', async () => {
    execFileSync('ip', ['-n', net.hostNs, 'route', 'add', 'default', 'via', OUTSIDE.out4]);
    outsideServer(cleanup, net, 8082);
    const t = await openNetHost(cleanup, net, { pools: POOLS, settings: { defaultMode: 'routed' } });
    await t.box('r-web', undefined, webServer('from-routed'));
    await t.box('r-client');
    const web = t.host.manager.get('r-web');
    assert.equal(await fetchFrom(t, 'r-client', { host: '10.231.0.2', port: 8080, path: '/' }), 'from-routed');
    assert.equal(await fetchFrom(t, 'r-client', { host: 'fd42:231::2', port: 8080, path: '/' }), 'from-routed');
    const peer = (await fetchFrom(t, 'r-client', { host: OUTSIDE.out4, port: 8082, path: '/cgi-bin/peer' })).replace(/^\[::ffff:(.*)\]$/, '$1');
    assert.equal(peer, OUTSIDE.host4, 'a routed box reaches the outside through NAT too');

    const inside = await t.exec('r-client', 'ip -o addr show dev eth0; ip route; ip -6 route; ip neigh');
    assert.match(inside.stdout, /inet 10\.231\.0\.3\/32/);
    assert.match(inside.stdout, /inet6 fd42:231::3\/128/);
    assert.match(inside.stdout, /default via 169\.254\.1\.1 dev eth0 onlink/);
    assert.match(inside.stdout, /default via fe80::1 dev eth0/);
    // The only neighbours the client ever learnt are its gateways: never the other box.
    const neighbours = inside.stdout.split('\n').filter((line) => /lladdr|FAILED|INCOMPLETE/.test(line));
    assert.ok(neighbours.length > 0 && neighbours.every((line) => /^(169\.254\.1\.1|fe80::1) /.test(line)), neighbours.join('; '));
    // No bridge: each host end stands alone with a route to its box.
    assert.ok(!listLinks(net.hostPath).some((link) => link.kind === 'bridge'));
    assert.match(execFileSync('ip', ['-n', net.hostNs, 'route', 'show', '10.231.0.2'], { encoding: 'utf8' }), new RegExp(`dev ${t.link(web.id)}`));
    // A source the routed box does not hold is dropped at its host end; its own gets through.
    const clientNetns = `/proc/${runtimeFacts(t.host.manager.get('r-client')).init?.pid}/ns/net`;
    netlink(clientNetns, [{ op: 'addr-add', dev: 'eth0', address: '10.231.0.99', prefix: 32 }]);
    assert.equal((await t.exec('r-client', 'ping -c 1 -W 2 -I 10.231.0.3 10.231.0.2')).exitCode, 0, 'from its own address');
    const spoofed = await t.exec('r-client', 'ping -c 2 -W 1 -I 10.231.0.99 10.231.0.2');
    assert.match(spoofed.stdout, /2 packets transmitted, 0 packets received/, 'from an address it does not hold');
    const clientRule = (listRules(net.hostPath, 'inet') ?? []).find(
      (rule) => rule.chain === `spoof-${t.link(t.host.manager.get('r-client').id)}` && JSON.stringify(rule.expr).includes('"ip"'),
    );
    const dropped = (clientRule?.expr as { counter?: { packets: number } }[] | undefined)?.find((part) => part.counter)?.counter?.packets ?? 0;
    assert.ok(dropped >= 2, `the routed box's IPv4 anti-spoofing rule dropped the spoofed pings (${dropped})`);
    // Even asked straight, at L2, nobody answers for the other box.
    netlink(clientNetns, [{ op: 'route-add', dst: '10.231.0.2', prefix: 32, dev: 'eth0' }]);
    const direct = await t.exec('r-client', 'ping -c 1 -W 1 10.231.0.2; ip neigh show 10.231.0.2');
    assert.match(direct.stdout, /1 packets transmitted, 0 packets received/, 'no L2 path to the other box');
    assert.match(direct.stdout, /10\.231\.0\.2 dev eth0 .*(INCOMPLETE|FAILED)/, 'its ARP went unanswered');
    await assertNothingLeft(t, net, 2);
    assert.equal(execFileSync('ip', ['-n', net.hostNs, 'route', 'show', '10.231.0.2'], { encoding: 'utf8' }).trim(), '', 'no host route is left');
  });

  it('keeps claims across a host restart and a box restart, never hands one out twice, and frees them at destroy', async () => {
    const first = await openNetHost(cleanup, net, { pools: POOLS });
    await first.box('keep');
    const keep = first.host.manager.get('keep');
    const held = first.claims();
    assert.deepEqual(Object.keys(held).sort(), ['10.231.0.2', 'fd42:231::2']);
    await first.host.manager.stop('keep', { timeoutMs: 0 });
    await first.host.close();

    // The same state dir, a new host: the box keeps its addresses; a new box gets the next ones.
    const second = await openNetHost(cleanup, net, { stateDir: first.stateDir, pools: POOLS });
    await second.host.manager.start('keep');
    const inside = await second.exec('keep', 'ip -o addr show dev eth0');
    assert.match(inside.stdout, /inet 10\.231\.0\.2\/24/);
    await second.box('next');
    const next = second.host.manager.get('next');
    assert.equal(second.claims()['10.231.0.3'], next.id);
    await assert.rejects(
      second.host.manager.create({ name: 'thief', config: { template: 'busybox', network: { ip: ['10.231.0.2'] } } }),
      (error: unknown) => isNsboxError(error) && error.code === 'E_ALREADY_EXISTS' && error.details?.field === 'network.ip[0]',
    );
    assert.equal(second.host.manager.list().length, 2, 'the refused box does not exist');

    await second.host.manager.destroy('keep', { force: true });
    assert.equal(second.claims()['10.231.0.2'], undefined, 'destroy frees the address');
    await second.box('reuse');
    assert.equal(second.claims()['10.231.0.2'], second.host.manager.get('reuse').id, 'and it is handed out again');
    assert.notEqual(keep.id, second.host.manager.get('reuse').id);
    await assertNothingLeft(second, net, 2);
  });

  it('names host ends per host: two hosts in one host-side namespace each run a box of the same id (a migration)', async () => {
    // Each host its own bridge, pool and no NAT: the hosts share the namespace, not their tables' contents.
    const hosts = [];
    for (const [index, subnet] of ['10.231.1.0/24', '10.231.2.0/24'].entries()) {
      hosts.push(await openNetHost(cleanup, net, { pools: [{ name: 'p', subnet }], settings: { bridge: `${net.bridge}${index}`, nat: false } }));
    }
    const [a, b] = hosts as [NetTestHost, NetTestHost];
    await a.host.manager.create({ name: 'moved', config: { template: 'busybox', process: { args: ['sleep', '100000'] } } });
    const id = a.host.manager.get('moved').id;
    await b.host.manager.create({ id, name: 'moved', config: { template: 'busybox', process: { args: ['sleep', '100000'] } } });
    for (const t of [a, b]) await t.host.manager.start('moved');
    assert.notEqual(a.link(id), b.link(id));
    assert.deepEqual(a.boxLinks().sort(), [a.link(id), b.link(id)].sort(), 'both host ends are in the namespace');
    assert.match((await b.exec('moved', 'ip -o addr show dev eth0')).stdout, /inet 10\.231\.2\.2\/24/);
    await a.host.manager.stop('moved', { timeoutMs: 0 });
    assert.deepEqual(b.boxLinks(), [b.link(id)], "one host's stop leaves the other's box wired");
    await b.host.manager.destroy('moved', { force: true });
    await a.host.manager.destroy('moved', { force: true });
    assert.deepEqual(a.boxLinks(), []);
  });

  it('refuses bad input naming the field, and leaves no box, claim, pool or veth behind', async () => {
    const t = await openNetHost(cleanup, net, { pools: [POOLS[0] as (typeof POOLS)[0]] });
    const refusal = async (promise: Promise<unknown>, code: string, field: string) =>
      assert.rejects(promise, (error: unknown) => isNsboxError(error) && error.code === code && error.details?.field === field);
    const create = (ip: string[]) => t.host.manager.create({ name: 'bad', config: { template: 'busybox', network: { ip } } });
    await refusal(create(['10.232.0.5']), 'E_INVALID_CONFIG', 'network.ip[0]');
    await refusal(create(['10.231.0.1']), 'E_INVALID_CONFIG', 'network.ip[0]');
    await refusal(create(['10.231.0.9/16']), 'E_INVALID_CONFIG', 'network.ip[0]');
    await refusal(create(['10.231.0.9', 'nonsense']), 'E_INVALID_CONFIG', 'network.ip[1]');
    await refusal(
      t.host.manager.create({ name: 'bad', config: { template: 'busybox', network: { mode: 'none', ip: ['10.231.0.9'] } } }),
      'E_INVALID_CONFIG',
      'network.ip',
    );
    assert.deepEqual(t.host.manager.list(), [], 'no box was made');
    assert.deepEqual(t.claims(), {});

    // A link of the bridge's name that nsbox did not make: the start fails, nothing is left half-made.
    execFileSync('ip', ['-n', net.hostNs, 'link', 'add', net.bridge, 'type', 'veth', 'peer', 'name', 'nsbt-peer']);
    await t.host.manager.create({ name: 'blocked', config: { template: 'busybox', process: { args: ['sleep', '100000'] } } });
    await refusal(t.host.manager.start('blocked'), 'E_ALREADY_EXISTS', 'settings.network.bridge');
    assert.notEqual(t.host.manager.get('blocked').state, 'running');
    assert.deepEqual(t.boxLinks(), [], 'no veth was made');
    assert.equal(listLinks(net.hostPath).find((link) => link.name === net.bridge)?.kind, 'veth', 'the foreign link is left as it was');
    await assertNothingLeft(t, net, 0);
  });
});
