/**
 * A routed box migrated between two nsboxd, each with its host side in a network namespace of
 * the test's, both joined to a third (the peer's LAN): the box keeps its address and its MAC
 * (both come from its config and its id, which travel with it), and a peer's established TCP
 * connection to it carries on once the LAN's route to it points at the target.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { networkPlugin } from '@nsbox/plugin-network';
import { buildBusyboxRootfs, makeTempDir, TEST_NETNS_PREFIX, useCleanup } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import { openDaemonHost } from './hosts.js';
import { linePeer, requireCriu } from './support.js';

const SUBNET = '10.235.9.0/24';
const BOX_ADDRESS = '10.235.9.20';
const PORT = 7009;

describe('migration: a routed box migrated with an established TCP connection', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  it('keeps its address and MAC, and a peer connection carries on once its route points at the target', async () => {
    const tag = randomBytes(3).toString('hex');
    // Three namespaces of the test's: each host's side (A, B: where its network plugin puts the
    // host ends of the boxes' veths) and the peer's LAN (P), joined to A and to B by a veth each.
    const [lan, sideA, sideB] = ['p', 'a', 'b'].map((side) => `${TEST_NETNS_PREFIX}${tag}-m${side}`) as [string, string, string];
    for (const netns of [lan, sideA, sideB]) {
      execFileSync('ip', ['netns', 'add', netns]);
      cleanup.add(`delete netns ${netns}`, () => execFileSync('ip', ['netns', 'del', netns]));
      execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    }
    const ip = (netns: string, ...args: string[]) => execFileSync('ip', ['-n', netns, ...args]);
    for (const [side, net, name] of [
      [sideA, '10.236.1', `mga${tag}`],
      [sideB, '10.236.2', `mgb${tag}`],
    ] as const) {
      ip(lan, 'link', 'add', `${name}p`, 'type', 'veth', 'peer', 'name', `${name}h`, 'netns', side);
      ip(lan, 'addr', 'add', `${net}.1/24`, 'dev', `${name}p`);
      ip(lan, 'link', 'set', `${name}p`, 'up');
      ip(side, 'addr', 'add', `${net}.2/24`, 'dev', `${name}h`);
      ip(side, 'link', 'set', `${name}h`, 'up');
      ip(side, 'route', 'add', 'default', 'via', `${net}.1`);
    }
    // Routed boxes: the box's move is a route change in the LAN, as a routing daemon would make it.
    ip(lan, 'route', 'add', `${BOX_ADDRESS}/32`, 'via', '10.236.1.2');
    const network = (side: string) => ({
      netns: `/run/netns/${side}`,
      bridge: `nsbr${tag}`,
      defaultMode: 'routed',
      nat: false,
      pools: [{ name: 'lan', subnet: SUBNET }],
    });
    const plugins = [networkPlugin as AnyPlugin, migrationPlugin as AnyPlugin];
    const source = await openDaemonHost(cleanup, plugins, { network: network(sideA) });
    const target = await openDaemonHost(cleanup, plugins, { network: network(sideB) });

    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    await (
      await source.client.boxes.create({
        name: 'mig-tcp',
        config: { rootfs, network: { ip: [BOX_ADDRESS] }, process: { args: ['nc', '-l', '-p', String(PORT), '-e', '/bin/cat'] } },
      })
    ).wait();
    for (const host of [source, target]) cleanup.add('destroy box mig-tcp', () => host.client.boxes.destroy('mig-tcp', { force: true }).catch(() => undefined));
    await source.client.boxes.start('mig-tcp');
    const client = linePeer(cleanup, lan, BOX_ADDRESS, PORT);
    assert.ok(await client.echoes('one', 10_000, 300), 'the box echoes over the connection');
    const macOf = (pid: number) => execFileSync('nsenter', ['-t', String(pid), '-n', 'cat', '/sys/class/net/eth0/address'], { encoding: 'utf8' }).trim();
    const macBefore = macOf(((await source.client.boxes.get('mig-tcp')).runtime as { init: { pid: number } }).init.pid);

    const moved = await source.action<{ state: string; frozenMs: number }>('migrate', { box: 'mig-tcp', to: target.socket, token: target.token });
    console.log(`      frozen ${moved.frozenMs} ms`);
    assert.equal(moved.state, 'running');
    assert.equal(client.child.exitCode, null, 'the peer was not told the connection ended');
    ip(lan, 'route', 'replace', `${BOX_ADDRESS}/32`, 'via', '10.236.2.2');

    const pid = ((await target.client.boxes.get('mig-tcp')).runtime as { init: { pid: number } }).init.pid;
    const inBox = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
    assert.match(inBox, new RegExp(`inet ${BOX_ADDRESS.replaceAll('.', '\\.')}/`), 'the box has its address on the target');
    assert.equal(macOf(pid), macBefore, 'and its MAC (made from its id)');
    assert.match(execFileSync('ip', ['-n', sideB, 'route', 'show', `${BOX_ADDRESS}/32`], { encoding: 'utf8' }), /dev /, "the target's side routes to it");
    assert.equal(execFileSync('ip', ['-n', sideA, 'route', 'show', `${BOX_ADDRESS}/32`], { encoding: 'utf8' }).trim(), '', "the source's side no more");
    assert.ok(await client.echoes('two', 20_000, 500), `the same connection carries on (got ${JSON.stringify(client.received())})`);
  });
});
