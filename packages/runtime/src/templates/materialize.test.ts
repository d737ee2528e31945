import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { builtinTemplates, listTemplates, materializeTemplate, type TemplateProgress } from './index.js';
import { run, tarDirectory, useTempDirs, writeTree } from './test-fixtures.js';

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: NsboxError) => {
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** A small rootfs-like tree with what a tarball must keep: owners, modes, links, a device and a fifo. */
function sampleTree(dir: string): string {
  writeTree(dir, {
    'bin/tool': '#!/bin/sh\necho tool\n',
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
    'etc/secret': 'secret\n',
    'usr/lib/libx.so.1': 'lib',
    'usr/lib/libx.so': { symlink: 'libx.so.1' },
    lib: { symlink: 'usr/lib' },
    'var/empty': { dir: true },
  });
  run('chown', ['1234:5678', join(dir, 'etc/secret')]);
  run('chmod', ['0640', join(dir, 'etc/secret')]);
  run('chmod', ['4755', join(dir, 'bin/tool')]);
  run('ln', [join(dir, 'bin/tool'), join(dir, 'bin/tool-hardlink')]);
  run('mknod', [join(dir, 'null'), 'c', '1', '3']);
  run('mkfifo', [join(dir, 'fifo')]);
  return dir;
}

/** `archive`: device nodes are not imported from archives (issue 10, hole 5); a directory template is the admin's own and is copied as it is. */
function assertSampleTree(rootfs: string, from: 'archive' | 'directory' = 'archive'): void {
  const secret = statSync(join(rootfs, 'etc/secret'));
  assert.equal(secret.uid, 1234);
  assert.equal(secret.gid, 5678);
  assert.equal(secret.mode & 0o7777, 0o640);
  assert.equal(statSync(join(rootfs, 'bin/tool')).mode & 0o7777, 0o4755);
  assert.equal(statSync(join(rootfs, 'bin/tool')).ino, statSync(join(rootfs, 'bin/tool-hardlink')).ino);
  assert.equal(readlinkSync(join(rootfs, 'usr/lib/libx.so')), 'libx.so.1');
  assert.equal(readlinkSync(join(rootfs, 'lib')), 'usr/lib');
  if (from === 'archive') assert.equal(existsSync(join(rootfs, 'null')), false, 'device nodes are not imported from an archive');
  else assert.equal(statSync(join(rootfs, 'null')).rdev, statSync('/dev/null').rdev);
  assert.ok(lstatSync(join(rootfs, 'fifo')).isFIFO());
  assert.ok(statSync(join(rootfs, 'var/empty')).isDirectory());
  assert.equal(readFileSync(join(rootfs, 'usr/lib/libx.so.1'), 'utf8'), 'lib');
}

describe('materializeTemplate', function () {
  this.timeout(30_000);
  const tempDir = useTempDirs();

  describe('the busybox built-in', () => {
    it('builds the cache once, copies it into each box, and the box runs a shell', async () => {
      const base = tempDir('busybox');
      const cacheDir = join(base, 'cache');
      const first: TemplateProgress[] = [];
      const made = await materializeTemplate('busybox', join(base, 'box1'), { cacheDir, onProgress: (p) => first.push(p) });
      assert.deepEqual(made, { template: 'busybox', kind: 'builtin', rootfs: join(base, 'box1') });
      assert.ok(first.some((p) => p.step === 'build'));
      assert.deepEqual(first.at(-1), { step: 'done', percent: 100 });
      assert.deepEqual(readdirSync(cacheDir), ['busybox'], 'no work directory is left beside the cached template');
      const cachedInode = statSync(join(cacheDir, 'busybox/bin/busybox')).ino;

      const second: TemplateProgress[] = [];
      await materializeTemplate('busybox', join(base, 'box2'), { cacheDir, onProgress: (p) => second.push(p) });
      assert.ok(!second.some((p) => p.step === 'build'), 'the second box is a copy of the cache');
      assert.ok(second.some((p) => p.step === 'copy'));
      assert.equal(statSync(join(cacheDir, 'busybox/bin/busybox')).ino, cachedInode);
      assert.equal(statSync(join(base, 'box2/tmp')).mode & 0o7777, 0o1777);

      const ok = spawnSync('chroot', [join(base, 'box2'), '/bin/sh', '-c', 'echo ok'], { encoding: 'utf8' });
      assert.equal(ok.stdout, 'ok\n', ok.stderr);
      assert.deepEqual(
        listTemplates(cacheDir).map(({ name, cached }) => ({ name, cached })),
        [
          { name: 'busybox', cached: true },
          { name: 'debian-12', cached: false },
          { name: 'debian-12-ssh', cached: false },
        ],
      );
    });

    it('shares one build between boxes made at the same time', async () => {
      const base = tempDir('busybox-shared');
      const cacheDir = join(base, 'cache');
      const builds: number[] = [];
      await Promise.all(
        [1, 2, 3].map((n) =>
          materializeTemplate('busybox', join(base, `box${n}`), {
            cacheDir,
            onProgress: (p) => {
              if (p.step === 'build' && p.percent === 0) builds.push(n);
            },
          }),
        ),
      );
      // Every waiter hears the one build's progress; the cache holds one template.
      assert.ok(builds.length >= 1);
      assert.deepEqual(readdirSync(cacheDir), ['busybox']);
      for (const n of [1, 2, 3]) assert.ok(existsSync(join(base, `box${n}/bin/busybox`)));
    });
    it('removes work directories that a dead process left in the cache', async () => {
      const base = tempDir('busybox-stale');
      const cacheDir = join(base, 'cache');
      const dead = spawnSync('true');
      const stale = join(cacheDir, `.build-debian-12-${dead.pid}-0badf00d`);
      writeTree(stale, { 'etc/half-built': 'x' });
      await materializeTemplate('busybox', join(base, 'box'), { cacheDir });
      assert.deepEqual(readdirSync(cacheDir), ['busybox']);
    });

    it('stops when cancelled, leaving no target and nothing in the cache', async () => {
      const base = tempDir('busybox-cancel');
      const cacheDir = join(base, 'cache');
      await assert.rejects(
        materializeTemplate('busybox', join(base, 'box'), { cacheDir, signal: AbortSignal.abort() }),
        (error: NsboxError) => error.code === 'E_RUNTIME' && error.details['cancelled'] === true,
      );
      assert.equal(existsSync(join(base, 'box')), false);
      assert.deepEqual(existsSync(cacheDir) ? readdirSync(cacheDir) : [], []);
    });
  });

  describe('tarballs and directories', () => {
    for (const suffix of ['.tar', '.tar.gz', '.tgz', '.tar.zst', '.tar.xz']) {
      it(`extracts a ${suffix} rootfs keeping owners, modes and links, dropping devices`, async () => {
        const base = tempDir('tarball');
        const archive = tarDirectory(sampleTree(join(base, 'src')), join(base, `rootfs${suffix}`));
        const progress: TemplateProgress[] = [];
        const made = await materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache'), onProgress: (p) => progress.push(p) });
        assert.equal(made.kind, 'tarball');
        assert.equal(made.config, undefined);
        assertSampleTree(made.rootfs);
        assert.ok(progress.some((p) => p.step === 'check' && p.percent === 100));
        assert.ok(progress.some((p) => p.step === 'extract' && p.percent === 100));
        assert.equal(existsSync(join(base, 'cache')), false, 'a tarball needs no cache');
      });
    }

    it('recognises an archive by its bytes when its name says nothing', async () => {
      const base = tempDir('tarball-noext');
      const archive = tarDirectory(sampleTree(join(base, 'src')), join(base, 'rootfs.tar.zst'));
      run('mv', [archive, join(base, 'rootfs.image')]);
      const made = await materializeTemplate(join(base, 'rootfs.image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
      assertSampleTree(made.rootfs);
    });

    it('copies a directory template, keeping owners and links', async () => {
      const base = tempDir('directory');
      const src = sampleTree(join(base, 'src'));
      const made = await materializeTemplate(src, join(base, 'box'), { cacheDir: join(base, 'cache') });
      assert.equal(made.kind, 'directory');
      assertSampleTree(made.rootfs, 'directory');
    });

    it('fills an existing empty target, and refuses a non-empty one without touching it', async () => {
      const base = tempDir('target');
      const src = writeTree(join(base, 'src'), { 'etc/hostname': 'x\n' });
      mkdirSync(join(base, 'empty'));
      await materializeTemplate(src, join(base, 'empty'), { cacheDir: join(base, 'cache') });
      assert.equal(readFileSync(join(base, 'empty/etc/hostname'), 'utf8'), 'x\n');
      // A fresh ext4 filesystem image mounted as the rootfs: only an empty lost+found.
      mkdirSync(join(base, 'fresh-ext4/lost+found'), { recursive: true });
      await materializeTemplate(src, join(base, 'fresh-ext4'), { cacheDir: join(base, 'cache') });
      assert.deepEqual(readdirSync(join(base, 'fresh-ext4')).sort(), ['etc', 'lost+found']);
      writeTree(join(base, 'full'), { keep: 'mine' });
      await assert.rejects(materializeTemplate(src, join(base, 'full'), { cacheDir: join(base, 'cache') }), rejectsWith('E_INVALID_ARGUMENT', /not empty/));
      assert.deepEqual(readdirSync(join(base, 'full')), ['keep']);
    });

    it('refuses to copy a directory into itself', async () => {
      const base = tempDir('into-itself');
      const src = writeTree(join(base, 'src'), { 'etc/hostname': 'x\n' });
      await assert.rejects(
        materializeTemplate(src, join(src, 'box'), { cacheDir: join(base, 'cache') }),
        rejectsWith('E_INVALID_ARGUMENT', /contains the target/),
      );
      assert.equal(existsSync(join(src, 'box')), false);
    });
  });

  describe('failures leave no target', () => {
    it('an unknown template name: E_NOT_FOUND listing the built-ins', async () => {
      const base = tempDir('unknown');
      const target = join(base, 'box');
      await assert.rejects(materializeTemplate('centos-7', target, { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
        assert.equal(error.code, 'E_NOT_FOUND');
        assert.match(error.message, /centos-7/);
        for (const name of builtinTemplates) assert.match(error.message, new RegExp(name));
        return true;
      });
      assert.equal(existsSync(target), false);
    });

    it('a path that does not exist: E_NOT_FOUND naming it', async () => {
      const base = tempDir('missing');
      await assert.rejects(
        materializeTemplate(join(base, 'nope.tar.gz'), join(base, 'box'), { cacheDir: join(base, 'cache') }),
        rejectsWith('E_NOT_FOUND', /nope\.tar\.gz/),
      );
      assert.equal(existsSync(join(base, 'box')), false);
    });

    it('a relative path: E_INVALID_ARGUMENT', async () => {
      const base = tempDir('relative');
      await assert.rejects(
        materializeTemplate('./rootfs.tar', join(base, 'box'), { cacheDir: join(base, 'cache') }),
        rejectsWith('E_INVALID_ARGUMENT', /absolute/),
      );
    });

    it('a file that is no archive: E_INVALID_ARGUMENT naming it and what was expected', async () => {
      const base = tempDir('not-archive');
      writeFileSync(join(base, 'notes.txt'), 'just some text, no tar here\n'.repeat(40));
      await assert.rejects(
        materializeTemplate(join(base, 'notes.txt'), join(base, 'box'), { cacheDir: join(base, 'cache') }),
        rejectsWith('E_INVALID_ARGUMENT', /notes\.txt is neither a directory nor a known archive: expected .*tarball/),
      );
      assert.equal(existsSync(join(base, 'box')), false);
    });

    it('a truncated .tar.gz: E_RUNTIME with what tar said', async () => {
      const base = tempDir('corrupt');
      const archive = tarDirectory(sampleTree(join(base, 'src')), join(base, 'rootfs.tar.gz'));
      writeFileSync(join(base, 'filler'), Buffer.alloc(256 * 1024, 7));
      run('cp', [join(base, 'filler'), join(base, 'src/filler')]);
      tarDirectory(join(base, 'src'), archive);
      truncateSync(archive, Math.floor(statSync(archive).size / 2));
      await assert.rejects(materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
        assert.equal(error.code, 'E_RUNTIME');
        assert.match(error.message, /unexpected end of file|Unexpected EOF/i);
        return true;
      });
      assert.equal(existsSync(join(base, 'box')), false);
    });

    it('garbage named .tar.zst: E_RUNTIME', async () => {
      const base = tempDir('garbage');
      writeFileSync(join(base, 'rootfs.tar.zst'), 'this is not zstd data at all'.repeat(30));
      await assert.rejects(
        materializeTemplate(join(base, 'rootfs.tar.zst'), join(base, 'box'), { cacheDir: join(base, 'cache') }),
        rejectsWith('E_RUNTIME', /tar/),
      );
      assert.equal(existsSync(join(base, 'box')), false);
    });
  });
});
