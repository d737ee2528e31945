/**
 * A bridged box migrated between two nsboxd whose network plugins share one bridge in a
 * test-owned network namespace (the "LAN" of both hosts): the box keeps its address and its
 * MAC (both come from its id and claims, which travel with it), and a peer's established TCP
 * connection to it carries on once it runs on the target.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { networkPlugin } from '@nsbox/plugin-network';
import { buildBusyboxRootfs, type Cleanup, makeTempDir, TEST_NETNS_PREFIX, useCleanup } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import { openDaemonHost } from './hosts.js';
import { requireCriu, waitFor } from './support.js';

const SUBNET = '10.235.9.0/24';
const BOX_ADDRESS = '10.235.9.20';
const PORT = 7009;

interface Peer {
  child: ChildProcess;
  received: () => string;
  echoes: (line: string, timeoutMs: number, everyMs: number) => Promise<boolean>;
}

function peer(cleanup: Cleanup, netns: string): Peer {
  const child = spawn('ip', ['netns', 'exec', netns, 'busybox', 'nc', BOX_ADDRESS, String(PORT)], { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.add('stop the peer', () => child.kill('SIGKILL'));
  let received = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  const echoes = (line: string, timeoutMs: number, everyMs: number) =>
    waitFor(
      () => {
        if (received.includes(`${line}\n`)) return true;
        child.stdin?.write(`${line}\n`);
        return false;
      },
      timeoutMs,
      everyMs,
    );
  return { child, received: () => received, echoes };
}

describe('migration: a bridged box migrated with an established TCP connection', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();

  before(function () {
    requireCriu(this);
  });

  it('keeps its address and MAC on the shared bridge, and the peer connection carries on', async () => {
    const tag = randomBytes(3).toString('hex');
    const netns = `${TEST_NETNS_PREFIX}${tag}-mg`;
    execFileSync('ip', ['netns', 'add', netns]);
    cleanup.add(`delete netns ${netns}`, () => execFileSync('ip', ['netns', 'del', netns]));
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const network = { netns: `/run/netns/${netns}`, bridge: `nsbg${tag}`, defaultMode: 'bridge', nat: false, pools: [{ name: 'lan', subnet: SUBNET }] };
    const plugins = [networkPlugin as AnyPlugin, migrationPlugin as AnyPlugin];
    const source = await openDaemonHost(cleanup, plugins, { network });
    const target = await openDaemonHost(cleanup, plugins, { network });

    const rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    await (
      await source.client.boxes.create({
        name: 'mig-tcp',
        config: { rootfs, network: { ip: [BOX_ADDRESS] }, process: { args: ['nc', '-l', '-p', String(PORT), '-e', '/bin/cat'] } },
      })
    ).wait();
    await source.client.boxes.start('mig-tcp');
    const client = peer(cleanup, netns);
    assert.ok(await client.echoes('one', 10_000, 300), 'the box echoes over the connection');
    const macOf = (pid: number) => execFileSync('nsenter', ['-t', String(pid), '-n', 'cat', '/sys/class/net/eth0/address'], { encoding: 'utf8' }).trim();
    const before = await source.client.boxes.get('mig-tcp');
    const macBefore = macOf((before.runtime as { init: { pid: number } }).init.pid);

    const moved = await source.action<{ state: string; frozenMs: number }>('migrate', { box: 'mig-tcp', to: target.socket, token: target.token });
    console.log(`      frozen ${moved.frozenMs} ms`);
    assert.equal(moved.state, 'running');
    assert.equal(client.child.exitCode, null, 'the peer was not told the connection ended');

    const after = await target.client.boxes.get('mig-tcp');
    const pid = (after.runtime as { init: { pid: number } }).init.pid;
    const inBox = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
    assert.match(inBox, new RegExp(`inet ${BOX_ADDRESS.replaceAll('.', '\\.')}/`), 'the box has its address on the target');
    assert.equal(macOf(pid), macBefore, 'and its MAC');
    assert.ok(await client.echoes('two', 20_000, 500), `the same connection carries on (got ${JSON.stringify(client.received())})`);
  });
});
