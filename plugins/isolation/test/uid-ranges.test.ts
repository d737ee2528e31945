/**
 * Unprivileged boxes by default: each box's root is its own host uid range, recorded in the
 * store, kept across box and nsbox restarts, never shared (not even by two processes
 * starting boxes at once) and freed on destroy; the rootfs is an idmapped mount and stays
 * owned by host uid 0 on disk.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { SqliteStore } from '@nsbox/store';
import { makeTempDir, repoRoot, requireRoot, useCleanup } from '@nsbox/testkit';
import { RANGE_SIZE } from '../src/id-pool.js';
import { UidAllocator } from '../src/uid-allocator.js';
import { inBox, makeRootfs, openIsolationHost, testCgroupParent } from './box-kit.js';

function hostUidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

describe('isolation: a uid range per box', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'user-namespaced boxes');
  });

  it('shows each box a uid_map of its own range and its rootfs as its own, owned by host root on disk', async () => {
    const rootfs = makeRootfs(cleanup);
    const rootfsB = makeRootfs(cleanup);
    const cgroupParent = testCgroupParent(cleanup);
    const kit = await openIsolationHost(cleanup, { cgroupParent });
    await kit.host.manager.create({ name: 'range-a', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    await kit.host.manager.create({ name: 'range-b', config: { rootfs: rootfsB, process: { args: ['/bin/sleep', '1000'] } } });
    const a = await kit.host.manager.start('range-a');
    const b = await kit.host.manager.start('range-b');

    const mapOf = async (name: string) => {
      const result = await inBox(
        kit,
        name,
        'cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; touch /made-inside; stat -c "%u %g" /made-inside /bin/busybox',
      );
      assert.equal(result.exitCode, 0, result.stderr);
      return result.stdout.trim().split('\n');
    };
    const [uidMapA, gidMapA, idA, ...ownersA] = await mapOf('range-a');
    const [uidMapB] = await mapOf('range-b');
    const [, hostA, sizeA] = (uidMapA as string).trim().split(/\s+/).map(Number);
    const [, hostB] = (uidMapB as string).trim().split(/\s+/).map(Number);
    assert.equal(sizeA, RANGE_SIZE);
    assert.equal(idA, '0');
    assert.match(gidMapA as string, new RegExp(`^\\s*0\\s+\\d+\\s+${RANGE_SIZE}$`));
    assert.ok(hostA !== undefined && hostB !== undefined && Math.abs(hostA - hostB) >= RANGE_SIZE, `ranges overlap: ${hostA} and ${hostB}`);
    assert.deepEqual(ownersA, ['0 0', '0 0'], 'inside, the box root owns its files');
    // On the host: the box's init runs as the first uid of its range; the files stay root's.
    assert.equal(hostUidOf((a.runtime as LinuxRuntimeFacts).init?.pid as number), hostA);
    assert.equal(statSync(join(rootfs, 'made-inside')).uid, 0, 'a file the box made is owned by host uid 0 on disk');
    assert.equal(statSync(join(rootfs, 'bin/busybox')).uid, 0);
    assert.notEqual(hostUidOf((b.runtime as LinuxRuntimeFacts).init?.pid as number), hostA);
  });

  it('keeps a range across box restarts and nsbox restarts, and frees it on destroy', async () => {
    const rootfs = makeRootfs(cleanup);
    const cgroupParent = testCgroupParent(cleanup);
    const stateDir = makeTempDir(cleanup, 'state');
    let kit = await openIsolationHost(cleanup, { cgroupParent, stateDir });
    await kit.host.manager.create({ name: 'keeper', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const box = await kit.host.manager.start('keeper');
    const first = (await inBox(kit, 'keeper', 'cat /proc/self/uid_map')).stdout.trim();
    await kit.host.manager.restart('keeper', { timeoutMs: 200 });
    assert.equal((await inBox(kit, 'keeper', 'cat /proc/self/uid_map')).stdout.trim(), first, 'same range after a box restart');

    // nsbox itself restarts: a new host on the same state dir.
    await kit.host.manager.stop('keeper', { timeoutMs: 200 });
    kit.host.close();
    kit = await openIsolationHost(cleanup, { cgroupParent, stateDir });
    await kit.host.manager.start('keeper');
    assert.equal((await inBox(kit, 'keeper', 'cat /proc/self/uid_map')).stdout.trim(), first, 'same range after nsbox restarted');
    const allocator = new UidAllocator(kit.host.store.pluginState);
    assert.ok(allocator.find(box.id), 'the range is recorded in the store');

    await kit.host.manager.destroy('keeper', { force: true });
    assert.equal(allocator.find(box.id), undefined, 'destroy frees the range');
    assert.deepEqual(
      allocator.list().map((entry) => entry.boxId),
      [],
    );
    assert.ok(kit.host.manager.history({ kind: 'isolation.range-freed' }).length > 0, 'the history says so');
  });

  it('never gives one range to two boxes, even when processes allocate at the same time', async () => {
    const stateDir = makeTempDir(cleanup, 'state');
    new SqliteStore({ stateDir }).close(); // schema first, so the racers only race for ranges
    const script = `
      import { SqliteStore } from '@nsbox/store';
      import { UidAllocator } from './plugins/isolation/src/uid-allocator.ts';
      const store = new SqliteStore({ stateDir: process.argv[1] });
      const allocator = new UidAllocator(store.pluginState);
      const out = [];
      for (let i = 0; i < 8; i++) out.push(allocator.allocate(process.argv[2] + '-' + i).uid.hostID);
      store.close();
      console.log(JSON.stringify(out));
    `;
    const racers = ['p1', 'p2', 'p3', 'p4'].map(
      (name) =>
        new Promise<number[]>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script, stateDir, name], {
            cwd: repoRoot,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk) => {
            stdout += chunk;
          });
          child.stderr.on('data', (chunk) => {
            stderr += chunk;
          });
          child.on('close', (code, signal) =>
            code === 0
              ? resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string))
              : reject(new Error(`racer ${name} ended with ${code ?? signal}: ${stderr}`)),
          );
        }),
    );
    const all = (await Promise.all(racers)).flat();
    assert.equal(all.length, 32);
    assert.equal(new Set(all).size, 32, `a range was handed out twice: ${all.join(' ')}`);
    const store = new SqliteStore({ stateDir });
    cleanup.add('close store', () => store.close());
    assert.equal(new UidAllocator(store.pluginState).list().length, 32);
  });
});
