/**
 * A bridged box (the network plugin's veth, an address from a pool, in a test-owned network
 * namespace standing for the host's side) checkpointed and restored: its address claim is
 * kept, the plugins wire a new namespace with it before criu runs, and an established TCP
 * connection from a peer in the test's namespace carries on across the restore. That works
 * for a box without a user namespace; one with (isolation's) is refused before it stops.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AnyPlugin, coreRefs } from '@nsbox/core';
import { findAction, invokeAction } from '@nsbox/host';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { networkPlugin } from '@nsbox/plugin-network';
import { LinuxBoxDriver } from '@nsbox/runtime';
import { buildBusyboxRootfs, createTestHost, makeTempDir, removeCgroupsAfter, TEST_NETNS_PREFIX, useCleanup } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import { linePeer, requireCriu } from './support.js';

const SUBNET = '10.235.7.0/24';
const BOX_ADDRESS = '10.235.7.20';
const PORT = 7007;

describe('migration: a bridged box and an established TCP connection', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  async function bridgedBox(withUserns: boolean) {
    const tag = randomBytes(3).toString('hex');
    const netns = `${TEST_NETNS_PREFIX}${tag}-mig`;
    execFileSync('ip', ['netns', 'add', netns]);
    cleanup.add(`delete netns ${netns}`, () => execFileSync('ip', ['netns', 'del', netns]));
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const cgroupParent = `nsbox-test-${tag}`;
    removeCgroupsAfter(cleanup, cgroupParent);
    const stateDir = makeTempDir(cleanup, 'state');
    const settings = { netns: `/run/netns/${netns}`, bridge: `nsbm${tag}`, defaultMode: 'bridge', nat: false, pools: [{ name: 'lan', subnet: SUBNET }] };
    writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { network: settings } }));
    const host = await createTestHost(cleanup, {
      stateDir,
      plugins: [...(withUserns ? [isolationPlugin as AnyPlugin] : []), networkPlugin as AnyPlugin, migrationPlugin as AnyPlugin],
      driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
    });
    cleanup.add('destroy boxes', async () => {
      for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    });
    const run = async (name: string, input: Record<string, unknown>) =>
      (await invokeAction(findAction(host.plugins, 'migration', name), input, {
        api: undefined as never,
        tenant: null,
        box: async (ref) => host.manager.sync(ref),
        services: host.plugins,
      })) as Record<string, unknown>;

    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    await host.manager.create({
      name: 'mig-net',
      config: { rootfs, network: { ip: [BOX_ADDRESS] }, process: { args: ['nc', '-l', '-p', String(PORT), '-e', '/bin/cat'] } },
    });
    await host.manager.start('mig-net');
    const claims = () =>
      host.plugins
        .get(coreRefs.pluginState)
        .list('network')
        .filter((entry) => entry.key.startsWith('addr:'))
        .map((entry) => entry.key);
    assert.deepEqual(claims(), [`addr:${BOX_ADDRESS}`]);

    const client = linePeer(cleanup, netns, BOX_ADDRESS, PORT);
    assert.ok(await client.echoes('one', 10_000, 300), 'the box echoes over the connection');
    return { host, run, claims, client };
  }

  it('keeps the address claim, rewires the box, and the peer connection carries on (a box without a user namespace)', async () => {
    const { host, run, claims, client } = await bridgedBox(false);

    const saved = await run('checkpoint', { box: 'mig-net', tcpEstablished: true });
    assert.equal(saved.state, 'stopped');
    assert.deepEqual(claims(), [`addr:${BOX_ADDRESS}`], 'the address stays claimed while the box is saved');
    assert.equal(client.child.exitCode, null, 'the peer was not told the connection ended');

    const restored = await run('restore', { box: 'mig-net' });
    assert.equal(restored.state, 'running');
    const inBox = execFileSync(
      'nsenter',
      ['-t', String((host.manager.get('mig-net').runtime as { init: { pid: number } }).init.pid), '-n', 'ip', '-4', 'addr', 'show', 'eth0'],
      { encoding: 'utf8' },
    );
    assert.match(inBox, new RegExp(`inet ${BOX_ADDRESS.replaceAll('.', '\\.')}/`), 'the box has its address again');
    assert.ok(await client.echoes('two', 20_000, 500), `the same connection carries on (got ${JSON.stringify(client.received())})`);

    await host.manager.stop('mig-net', { timeoutMs: 1_000 });
    await host.manager.destroy('mig-net');
    assert.deepEqual(claims(), [], 'destroy frees the address');
  });

  it('refuses a bridged box with a user namespace before it stops: its connection carries on', async () => {
    const { host, run, client } = await bridgedBox(true);
    await assert.rejects(run('checkpoint', { box: 'mig-net', tcpEstablished: true }), /network links \(eth0\) and a user namespace/);
    assert.equal(host.manager.get('mig-net').state, 'running');
    assert.ok(await client.echoes('two', 5_000, 300), 'the connection still works');
  });
});
