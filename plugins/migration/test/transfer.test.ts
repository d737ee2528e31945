/**
 * Export and import between two nsboxd on this machine (each its own state dir and cgroup
 * parent): a checkpointed box arrives with its id, name and config and its counter goes on
 * from where it was; a stopped box arrives with its root's files; bad archives are refused
 * with nothing created and nothing written outside the staging directory.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { makeTempDir, useCleanup } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import { tarHeader } from '../src/strict-tar.js';
import { countIn, countReaches, type DaemonHost, openDaemonHost, startCounterBox } from './hosts.js';
import { requireCriu } from './support.js';

const plugins = [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, migrationPlugin as AnyPlugin];

/** A tar of the given members, as a hostile sender would write it. */
function craftTar(file: string, members: { name: string; content?: string; type?: 'file' | 'dir' }[]): void {
  const blocks: Buffer[] = [];
  for (const member of members) {
    const content = Buffer.from(member.content ?? '');
    blocks.push(tarHeader(member.name, member.type === 'dir' ? 0 : content.length, member.type ?? 'file'));
    if (member.type !== 'dir') blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  writeFileSync(file, Buffer.concat(blocks));
}

describe('migration: export and import of a box between two hosts', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let source: DaemonHost;
  let target: DaemonHost;

  before(function () {
    requireCriu(this);
  });

  beforeEach(async () => {
    source = await openDaemonHost(cleanup, plugins);
    target = await openDaemonHost(cleanup, plugins);
  });

  it('carries a checkpointed box — id, name, config, memory — to another host, where it goes on counting', async () => {
    const original = await startCounterBox(cleanup, source, 'mig-exp');
    const file = join(makeTempDir(cleanup, 'archive'), 'mig-exp.nsbox');
    const exported = await source.action<{ file: string; bytes: number; checkpoint: boolean }>('export', { box: 'mig-exp', file, checkpoint: true });
    assert.equal(exported.checkpoint, true);
    assert.ok(exported.bytes > 100_000, `the archive has the root and the images (${exported.bytes} bytes)`);
    assert.equal((await source.client.boxes.get('mig-exp')).state, 'stopped');
    const atDump = Number(execFileSync('cat', [join(String((original.runtime as { rootfs: string }).rootfs), 'count')], { encoding: 'utf8' }).trim());

    const imported = await target.action<{ box: string; id: string; state: string; checkpoint: boolean }>('import', { file, run: true });
    assert.deepEqual([imported.box, imported.id, imported.state, imported.checkpoint], ['mig-exp', original.id, 'running', true]);
    const arrived = await target.client.boxes.get('mig-exp');
    assert.deepEqual(arrived.config, original.config, 'the config came as it was');
    // The counter is the dumped shell's: it goes on from where it was, not from 0.
    const first = await countIn(target, 'mig-exp');
    assert.ok(first >= atDump, `counter ${first} on the target, ${atDump} at the dump`);
    assert.ok((await countReaches(target, 'mig-exp', first + 3, 10_000)) > first + 3, 'and it goes on');
    // Its limits hold on the new host's cgroup.
    const pidsMax = execFileSync('cat', [`/sys/fs/cgroup/pids/${target.cgroupParent}/${original.id}/pids.max`], { encoding: 'utf8' }).trim();
    assert.equal(pidsMax, '64');
    const init = (arrived.runtime as { init: { pid: number } }).init.pid;
    const procs = execFileSync('cat', [`/sys/fs/cgroup/pids/${target.cgroupParent}/${original.id}/cgroup.procs`], { encoding: 'utf8' });
    assert.ok(procs.split('\n').includes(String(init)), `the restored init ${init} is in the target's box cgroup (${procs.trim()})`);
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      assert.equal(existsSync(`/sys/fs/cgroup/${hierarchy}/${source.cgroupParent}/${original.id}`), false, `nothing in the source's parent (${hierarchy})`);
    }
    // Its root is the target's own copy, under the target's state directory.
    assert.ok(String((arrived.runtime as { rootfs: string }).rootfs).startsWith(target.stateDir));
    assert.deepEqual(readdirSync(join(target.stateDir, 'migration', 'staging')), [], 'no staging left');
  });

  it('carries a stopped box without a checkpoint: it starts there on the root it had', async () => {
    await startCounterBox(cleanup, source, 'mig-cold');
    await source.client.boxes.exec('mig-cold', { command: ['sh', '-c', 'echo kept > /kept'] });
    await source.client.boxes.stop('mig-cold');
    const file = join(makeTempDir(cleanup, 'archive'), 'cold.nsbox');
    const exported = await source.action<{ checkpoint: boolean }>('export', { box: 'mig-cold', file });
    assert.equal(exported.checkpoint, false);
    const imported = await target.action<{ state: string; checkpoint: boolean }>('import', { file, name: 'mig-cold2', run: true });
    assert.deepEqual([imported.state, imported.checkpoint], ['running', false]);
    assert.equal((await target.client.boxes.exec('mig-cold2', { command: ['cat', '/kept'] })).stdout, 'kept\n');
    // Refused: a running box without --checkpoint, an archive that exists, a relative path.
    await source.client.boxes.start('mig-cold');
    await assert.rejects(source.action('export', { box: 'mig-cold', file: `${file}.2` }), /is running/);
    await assert.rejects(source.action('export', { box: 'mig-cold', file }), (error: Error & { field?: string }) => error.field === 'file');
    await assert.rejects(source.action('export', { box: 'mig-cold', file: 'relative.nsbox' }), /not an absolute path/);
    // An archive whose name is taken on the target: refused naming the field, the first box untouched.
    await assert.rejects(target.action('import', { file, name: 'mig-cold2' }), (error: Error & { field?: string }) => error.field === 'name');
    assert.equal((await target.client.boxes.get('mig-cold2')).state, 'running');
    // The rootfs directories go before nsboxd in the clean-up: nothing may write into them then.
    await source.client.boxes.stop('mig-cold');
  });

  it('refuses bad archives before creating anything, and writes nothing outside its staging directory', async () => {
    const dir = makeTempDir(cleanup, 'bad');
    const manifest = JSON.stringify({ format: 1, kind: 'nsbox-box', box: { id: 'x', name: 'evil', config: {} }, exportedAt: 0, checkpoint: false });
    const cases: [string, () => void, RegExp][] = [
      ['dotdot', () => craftTar(join(dir, 'dotdot'), [{ name: '../escape', content: 'x' }]), /absolute or relative-up name/],
      ['absolute', () => craftTar(join(dir, 'absolute'), [{ name: `${dir}/escape-abs`, content: 'x' }]), /absolute or relative-up name/],
      ['stranger', () => craftTar(join(dir, 'stranger'), [{ name: 'etc-passwd', content: 'x' }]), /does not belong/],
      ['no-rootfs', () => craftTar(join(dir, 'no-rootfs'), [{ name: 'nsbox-export.json', content: manifest }]), /has no rootfs\.tar/],
      [
        'bad-manifest',
        () =>
          craftTar(join(dir, 'bad-manifest'), [
            { name: 'nsbox-export.json', content: JSON.stringify({ format: 2 }) },
            { name: 'rootfs.tar', content: '' },
          ]),
        /nsbox-export\.json is wrong at format/,
      ],
      ['truncated', () => writeFileSync(join(dir, 'truncated'), tarHeader('rootfs.tar', 4096, 'file')), /cut short|ends before/],
      ['image-before-dir', () => craftTar(join(dir, 'image-before-dir'), [{ name: 'images/core-1.img', content: 'x' }]), /comes before its directory/],
      [
        'symlink',
        () => {
          const from = join(dir, 'link-src');
          mkdirSync(from);
          symlinkSync('/etc', join(from, 'images'));
          execFileSync('tar', ['-cf', join(dir, 'symlink'), '-C', from, 'images']);
        },
        /not a plain file or directory/,
      ],
    ];
    for (const [name, make, why] of cases) {
      make();
      await assert.rejects(target.action('import', { file: join(dir, name) }), (error: Error & { field?: string }) => {
        assert.match(error.message, why, name);
        assert.equal(error.field, 'file', name);
        return true;
      });
    }
    assert.equal(existsSync(join(dir, '..', 'escape')), false, 'nothing written through ..');
    assert.equal(existsSync(join(dir, 'escape-abs')), false, 'nothing written at an absolute name');
    assert.deepEqual(await target.client.boxes.list(), [], 'no box was created');
    assert.deepEqual(readdirSync(join(target.stateDir, 'migration', 'staging')), [], 'no staging left');
  });
});
