/**
 * IPv6 neighbour-discovery spoofing on the bridge (real kernel, test network namespaces): a
 * box advertises another box's IPv6 address as its own (an unsolicited neighbour advertisement
 * with the override flag, from its link-local source, which the source check lets through) to
 * take over the traffic the host sends there. The attack is the box root's own (it holds
 * CAP_NET_RAW in its namespaces); the test sends it from the attacker's network namespace with
 * a raw ICMPv6 socket. With nsbox's rules the host's neighbour entry keeps the victim's MAC and
 * the drop is counted; with the rules gone (the control), the same advertisement takes it over.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { runtimeFacts } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { listRules } from '../src/index.js';
import { boxMacAddress } from '../src/mac.js';
import { makeTestNet, openNetHost, spoofRules, type TestNet } from './support.js';

const POOLS = [
  { name: 'v4', subnet: '10.238.0.0/24' },
  { name: 'v6', subnet: 'fd42:238::/64' },
];

/** Unsolicited neighbour advertisements (override set) naming `target` at `mac`, to all nodes on eth0. */
const ADVERTISE = `
import socket, struct, sys
target, mac = sys.argv[1], sys.argv[2]
index = socket.if_nametoindex('eth0')
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
# type 136, code 0, checksum (the kernel's), flags: override; the target; option 2: its link-layer address
advert = struct.pack('!BBHI', 136, 0, 0, 0x20000000) + socket.inet_pton(socket.AF_INET6, target) + struct.pack('!BB', 2, 1) + bytes.fromhex(mac.replace(':', ''))
for _ in range(3):
    s.sendto(advert, ('ff02::1', 0, 0, index))
`;

describe('network plugin: neighbour-discovery spoofing (real kernel, test network namespaces)', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let net: TestNet;

  before(function () {
    requireRoot(this, 'the network plugin tests');
  });

  beforeEach(() => {
    net = makeTestNet(cleanup);
  });

  it("drops a box's neighbour advertisement for another box's IPv6 address, which without the rules takes over the host's entry", async () => {
    const t = await openNetHost(cleanup, net, { pools: POOLS });
    const victim = await t.box('victim', { mode: 'bridge', ip: ['10.238.0.2', 'fd42:238::2/64'] });
    const attacker = await t.box('attacker', { mode: 'bridge', ip: ['10.238.0.3', 'fd42:238::3/64'] });
    const [victimMac, attackerMac] = [boxMacAddress(victim.id), boxMacAddress(attacker.id)];
    const attackerNetns = `/proc/${runtimeFacts(attacker).init?.pid}/ns/net`;

    /** The host side's neighbour entry for the victim's IPv6 address: its MAC. */
    const hostEntry = () => /lladdr (\S+)/.exec(execFileSync('ip', ['-n', net.hostNs, '-6', 'neigh', 'show', 'fd42:238::2'], { encoding: 'utf8' }))?.[1];
    const attack = () => execFileSync('nsenter', [`--net=${attackerNetns}`, 'python3', '-c', ADVERTISE, 'fd42:238::2', attackerMac]);
    const reachVictim = () => execFileSync('ip', ['netns', 'exec', net.hostNs, 'busybox', 'ping', '-c', '1', '-W', '2', 'fd42:238::2'], { stdio: 'ignore' });

    reachVictim();
    assert.equal(hostEntry(), victimMac, "the host knows the victim's address at the victim's MAC");
    const attackerLink = t.link(attacker.id);
    assert.deepEqual(
      spoofRules(net).filter((rule) => rule.startsWith(attackerLink)),
      [`${attackerLink} ip`, `${attackerLink} arp`, `${attackerLink} ip6`, `${attackerLink} nd`],
    );

    attack();
    assert.equal(hostEntry(), victimMac, "the attacker's advertisements were dropped on its veth");
    const rule = (listRules(net.hostPath, 'bridge') ?? []).find(
      (candidate) => candidate.chain === `spoof-${attackerLink}` && JSON.stringify(candidate.expr).includes('nd-neighbor-advert'),
    );
    const dropped = (rule?.expr as { counter?: { packets: number } }[] | undefined)?.find((part) => part.counter)?.counter?.packets ?? 0;
    assert.ok(dropped >= 3, `the advertisements were counted (${dropped})`);
    // A box's own neighbour discovery still works: the host reaches the attacker's own address.
    execFileSync('ip', ['netns', 'exec', net.hostNs, 'busybox', 'ping', '-c', '1', '-W', '2', 'fd42:238::3'], { stdio: 'ignore' });

    // The control: without nsbox's bridge rules the same advertisement takes the victim's address over.
    execFileSync('ip', ['netns', 'exec', net.hostNs, 'nft', 'flush', 'chain', 'bridge', 'nsbox', 'prerouting']);
    attack();
    assert.equal(hostEntry(), attackerMac, "without the rules the host sends the victim's traffic to the attacker");
  });
});
