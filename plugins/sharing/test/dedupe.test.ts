/**
 * `nsbox dedupe` on real boxes (user-namespaced, each with its own uid range, on the busybox
 * template's shared layer, uppers on the host's ext4): identical files written by two boxes
 * become one inode in the merged store, each box sees its file as before, a write copies it up
 * again without touching the other's; the dry run changes nothing; what must not merge does not
 * (a different file, a small one, a set-id one, a running box); a start while a box's layers
 * are locked fails E_BUSY.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { type DedupeReport, OWN_UPPER } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { openSharingHost, type SharingTestHost } from './support.js';

const MiB = 2 ** 20;

describe('sharing: nsbox dedupe', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'dedupe on real boxes');
  });

  beforeEach(async () => {
    t = await openSharingHost(cleanup);
  });

  const upper = (name: string) => join(t.boxDir(name), 'rootfs', OWN_UPPER);
  const dedupe = async (input: Record<string, unknown> = {}) => (await new LocalBoxApi(t.host).runAction('sharing', 'dedupe', input)) as DedupeReport;
  const entry = (report: DedupeReport, name: string) => report.boxes.find((box) => box.name === name);

  const look = async (name: string, path: string) => (await t.exec(name, `md5sum ${path} | cut -d' ' -f1; stat -c '%a %u:%g %Y %s' ${path}`)).stdout;

  /**
   * A box that writes the same 1 MiB file (same bytes, mtime, mode, owner as it sees them) and
   * a few of its own, then stops; returns how it saw the big file.
   */
  async function writer(name: string, own: string): Promise<string> {
    await t.box(name);
    const made = await t.exec(
      name,
      [
        'mkdir -p /srv/data',
        'yes nsbox-dedupe | head -c 1048576 > /srv/data/big',
        `yes ${own} | head -c 1048576 > /srv/data/own`,
        'echo small > /srv/data/small',
        'yes setid | head -c 8192 > /srv/data/setid && chmod 4755 /srv/data/setid',
        'yes capped | head -c 8192 > /srv/data/capped',
        'touch -d "2024-01-02 03:04:05" /srv/data/big /srv/data/own /srv/data/setid /srv/data/capped',
        'sync && echo ok',
      ].join(' && '),
    );
    assert.equal(made.stdout.trim(), 'ok', made.stderr);
    const seen = await look(name, '/srv/data/big');
    await t.host.manager.stop(name, { timeoutMs: 0 });
    // A file with an extended attribute (a capability) is never merged: its attributes could differ.
    execFileSync('setcap', ['cap_net_raw+ep', join(upper(name), 'srv/data/capped')]);
    return seen;
  }

  it('merges identical files of stopped boxes into one inode, each box sees its file as before, and a write copies it up again', async () => {
    const before = await writer('alpha', 'alpha');
    assert.equal(await writer('beta', 'beta'), before, 'both wrote the same file');
    await t.box('running');

    const dry = await dedupe({ dryRun: true });
    assert.deepEqual([dry.dryRun, dry.files, entry(dry, 'alpha')?.files, entry(dry, 'beta')?.files], [true, 2, 1, 1], 'the two big files would merge');
    assert.ok(dry.bytesSaved >= MiB && dry.bytesSaved < 1.1 * MiB, `one copy's blocks would be saved: ${dry.bytesSaved}`);
    assert.match(entry(dry, 'running')?.skipped ?? '', /running/);
    assert.ok(existsSync(join(upper('alpha'), 'srv/data/big')), 'the dry run changed nothing');

    const report = await dedupe();
    console.log(`      dedupe: ${report.files} files merged, ${report.bytesSaved} bytes saved (dry run said ${dry.bytesSaved})`);
    assert.deepEqual([report.files, entry(report, 'alpha')?.files, entry(report, 'beta')?.files], [2, 1, 1]);
    assert.ok(report.bytesSaved >= MiB && report.bytesSaved < 1.1 * MiB, `one copy's blocks saved: ${report.bytesSaved}`);
    for (const name of ['alpha', 'beta']) {
      assert.ok(!existsSync(join(upper(name), 'srv/data/big')), `${name}'s upper no longer holds the file`);
      for (const kept of ['own', 'small', 'setid', 'capped']) assert.ok(existsSync(join(upper(name), 'srv/data', kept)), `${name} keeps /srv/data/${kept}`);
    }
    const merged = (name: string) => lstatSync(join(t.boxDir(name), 'merged', 'srv/data/big'));
    assert.equal(merged('alpha').ino, merged('beta').ino, 'one inode for both boxes');
    assert.equal(merged('alpha').nlink, 3, 'the store and two boxes link it');

    // Each box sees its file as it wrote it: bytes, mode, owner (its own root), mtime.
    for (const name of ['alpha', 'beta']) await t.host.manager.start(name);
    for (const name of ['alpha', 'beta']) assert.equal(await look(name, '/srv/data/big'), before, `${name} sees its file as it wrote it`);
    assert.match(before, /^[0-9a-f]{32}\n644 0:0 \d+ 1048576\n$/);

    // A write copies it up into the writer's upper; the other box and the store keep theirs.
    const wrote = await t.exec('alpha', 'echo more >> /srv/data/big && echo ok');
    assert.equal(wrote.stdout.trim(), 'ok', wrote.stderr);
    assert.equal(await look('beta', '/srv/data/big'), before, 'beta’s file is unchanged');
    assert.equal(merged('beta').size, MiB, 'the shared inode is unchanged');

    // Nothing to do again: running boxes are left alone, and stopped ones hold nothing new.
    await t.host.manager.stop('beta', { timeoutMs: 0 });
    const again = await dedupe();
    assert.deepEqual([again.files, again.bytesSaved], [0, 0]);
    assert.match(entry(again, 'alpha')?.skipped ?? '', /running/);
    await t.host.manager.stop('alpha', { timeoutMs: 0 });
    assert.ok(existsSync(join(upper('alpha'), 'srv/data/big')), 'alpha’s write made a copy of its own, in its upper');
  });

  it('rebases a deduplicated box onto a new template version: its merged files, its own changes and the new version all show', async () => {
    const before = await writer('alpha', 'alpha');
    await writer('beta', 'beta');
    assert.equal((await dedupe()).files, 2);
    writeFileSync(join(t.template, 'etc', 'motd'), 'version two\n');
    const fresh = await t.driver.layers.refresh(t.template);
    const api = new LocalBoxApi(t.host);
    const dry = (await api.runAction('sharing', 'rebase', { box: 'alpha', dryRun: true })) as { conflicts: string[]; to: string; applied: boolean };
    assert.deepEqual([dry.conflicts, dry.to, dry.applied], [[], fresh.version, false], 'nothing the box changed changed in the template');
    const done = (await api.runAction('sharing', 'rebase', { box: 'alpha' })) as { applied: boolean };
    assert.equal(done.applied, true);
    await t.host.manager.start('alpha');
    assert.equal(await look('alpha', '/srv/data/big'), before, 'the merged file, as the box wrote it');
    const seen = await t.exec('alpha', 'cat /etc/motd; head -c 5 /srv/data/own; echo');
    assert.equal(seen.stdout, 'version two\nalpha\n', 'the new version and the box’s own file');
    // The other box, not rebased, keeps the old version and the shared inode.
    await t.host.manager.start('beta');
    assert.equal(await look('beta', '/srv/data/big'), before);
    assert.equal((await t.exec('beta', 'cat /etc/motd')).stdout, 'from the template\n');
  });

  it('refuses a start while a box’s layers are locked by a dedupe, and starts once the lock is gone (or its process is)', async () => {
    await writer('locked', 'locked');
    const lock = join(t.boxDir('locked'), 'layers.lock');
    writeFileSync(lock, `${process.pid}\n`);
    await assert.rejects(t.host.manager.start('locked'), (error: NsboxError) => isNsboxError(error) && error.code === 'E_BUSY' && /dedupe/.test(error.message));
    assert.equal(t.host.manager.get('locked').state, 'stopped');
    writeFileSync(lock, '2147483646\n'); // a process that does not exist: its lock is stale
    await t.host.manager.start('locked');
    assert.equal(t.host.manager.get('locked').state, 'running');
    assert.ok(!readdirSync(t.boxDir('locked')).includes('layers.lock'), 'the start released the lock');
  });
});
