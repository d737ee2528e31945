import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { materializeTemplate } from './index.js';
import { run, tarDirectory, useTempDirs, writeOciLayout, writeTree } from './test-fixtures.js';

/** Appends `file` to `archive` under the member name `member`, whatever that name is. */
function appendAs(archive: string, file: string, member: string): void {
  const dir = join(file, '..');
  const name = file.slice(dir.length + 1);
  run('tar', ['-rPf', archive, '-C', dir, `--transform=s|^${name}$|${member}|`, name]);
}

describe('extracting untrusted archives', function () {
  this.timeout(30_000);
  const tempDir = useTempDirs();

  it('refuses ../escape and a symlink to / followed by evil/<path>, writing nothing outside the target', async () => {
    const base = tempDir('escape');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(base, 'payload'), 'pwned\n');
    writeTree(join(base, 'src'), { 'etc/hostname': 'box\n', evil: { symlink: '/' } });
    const target = join(base, 'work/box');

    // Each hazard alone, so that each one is caught by itself.
    const dotdot = join(base, 'dotdot.tar');
    tarDirectory(join(base, 'src/etc'), dotdot);
    appendAs(dotdot, join(base, 'payload'), '../escape');
    appendAs(dotdot, join(base, 'payload'), 'etc/../../escape2');
    const throughLink = join(base, 'through-link.tar');
    tarDirectory(join(base, 'src'), throughLink);
    appendAs(throughLink, join(base, 'payload'), `evil${outside}/x`);
    const hardlink = join(base, 'hardlink.tar');
    run('tar', ['-cf', hardlink, '-C', join(base, 'src'), 'evil']);
    run('ln', [join(base, 'payload'), join(base, 'payload-link')]);
    run('tar', ['-rf', hardlink, '-C', base, '--transform=s|^payload$|evil/etc/shadow|;s|^payload-link$|stolen|', 'payload', 'payload-link']);

    for (const archive of [dotdot, throughLink, hardlink]) {
      await assert.rejects(materializeTemplate(archive, target, { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
        assert.equal(error.code, 'E_INVALID_ARGUMENT', error.message);
        assert.match(error.message, /"\.\." component|would be written through "evil"/);
        return true;
      });
      assert.equal(existsSync(target), false, `${archive}: no target left`);
      assert.deepEqual(readdirSync(outside), []);
      assert.deepEqual(readdirSync(join(base, 'work')), []);
      assert.equal(existsSync(join(base, 'escape')), false);
      assert.equal(existsSync(join(base, 'escape2')), false);
    }
    assert.notEqual(readFileSync('/etc/shadow', 'utf8'), 'pwned\n');
  });

  it('keeps absolute member names inside the target, as GNU tar does', async () => {
    const base = tempDir('absolute');
    writeFileSync(join(base, 'payload'), 'inside\n');
    const archive = join(base, 'abs.tar');
    tarDirectory(writeTree(join(base, 'src'), { 'etc/hostname': 'box\n' }), archive);
    appendAs(archive, join(base, 'payload'), `/${base.slice(1)}/absolute-escape`);
    const made = await materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.equal(existsSync(join(base, 'absolute-escape')), false);
    assert.equal(readFileSync(join(made.rootfs, base, 'absolute-escape'), 'utf8'), 'inside\n');
  });

  it('refuses an image whose upper layer writes through a lower layer`s symlink to /', async () => {
    const base = tempDir('layer-escape');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    const lower = tarDirectory(writeTree(join(base, 'lower'), { 'etc/hostname': 'box\n', evil: { symlink: '/' } }), join(base, 'lower.tar'));
    writeFileSync(join(base, 'payload'), 'pwned\n');
    const upper = join(base, 'upper.tar');
    appendAs(upper, join(base, 'payload'), `evil${outside}/x`);
    writeOciLayout(join(base, 'image'), [lower, upper], {});
    await assert.rejects(materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_ARGUMENT', error.message);
      assert.match(error.message, /layer 2 of 2.*would be written through "evil"/);
      return true;
    });
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(existsSync(join(base, 'box')), false);
  });

  it('lets an upper layer replace a symlink with a directory without touching what it pointed to', async () => {
    const base = tempDir('layer-replace');
    const victim = join(base, 'victim');
    mkdirSync(victim, { mode: 0o700 });
    const lower = tarDirectory(writeTree(join(base, 'lower'), { data: { symlink: victim }, 'etc/x': 'x' }), join(base, 'lower.tar'));
    const upperDir = writeTree(join(base, 'upper'), { 'data/file': 'new\n' });
    run('chmod', ['0777', join(upperDir, 'data')]);
    const upper = tarDirectory(upperDir, join(base, 'upper.tar'));
    writeOciLayout(join(base, 'image'), [lower, upper], {});
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.ok(lstatSync(join(made.rootfs, 'data')).isDirectory());
    assert.equal(readFileSync(join(made.rootfs, 'data/file'), 'utf8'), 'new\n');
    assert.equal(statSync(victim).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(victim), []);
  });

  it('never deletes through a lower layer`s symlink, whether for a whiteout or to replace a directory', async () => {
    const base = tempDir('layer-delete');
    const victim = writeTree(join(base, 'victim'), { 'etc/important': 'keep\n', 'opt/important': 'keep\n', 'var/important': 'keep\n' });
    const lower = tarDirectory(writeTree(join(base, 'lower'), { a: { symlink: victim }, b: { symlink: victim } }), join(base, 'lower.tar'));
    // The upper layer makes a/ a directory holding a file "etc" (where the victim has a
    // directory), and whites out b/opt and everything in b/var.
    const upper = tarDirectory(writeTree(join(base, 'upper'), { 'a/etc': 'file now\n', 'b/.wh.opt': '', 'b/var/.wh..wh..opq': '' }), join(base, 'upper.tar'));
    writeOciLayout(join(base, 'image'), [lower, upper], {});
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.equal(readFileSync(join(made.rootfs, 'a/etc'), 'utf8'), 'file now\n');
    for (const file of ['etc/important', 'opt/important', 'var/important']) assert.equal(readFileSync(join(victim, file), 'utf8'), 'keep\n');
  });

  it('handles file names that are not UTF-8, whiteouts included', async () => {
    const base = tempDir('bytes');
    // \351 is é in Latin-1: not valid UTF-8, so no JavaScript string can name these files.
    run(
      'bash',
      [
        '-c',
        `mkdir -p lower/d$'\\377' upper/d$'\\377' && cd lower && echo x > caf$'\\351' && echo y > keep && echo z > d$'\\377'/old && cd ../upper && : > .wh.caf$'\\351' && : > d$'\\377'/.wh..wh..opq && echo n > d$'\\377'/new$'\\376'`,
      ],
      { cwd: base },
    );
    const lower = tarDirectory(join(base, 'lower'), join(base, 'lower.tar'));
    const upper = tarDirectory(join(base, 'upper'), join(base, 'upper.tar'));
    writeOciLayout(join(base, 'image'), [lower, upper], {});
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
    const listing = run('bash', ['-c', "LC_ALL=C find . -mindepth 1 | LC_ALL=C sort | od -An -tx1 | tr -d ' \\n'"], { cwd: made.rootfs });
    const expected = Buffer.concat([
      Buffer.from('./d'),
      Buffer.from([0xff, 0x0a]),
      Buffer.from('./d'),
      Buffer.from([0xff]),
      Buffer.from('/new'),
      Buffer.from([0xfe, 0x0a]),
      Buffer.from('./keep\n'),
    ]);
    assert.equal(listing, expected.toString('hex'));
  });

  it('refuses a whiteout that names ".."', async () => {
    const base = tempDir('bad-whiteout');
    const lower = tarDirectory(writeTree(join(base, 'lower'), { 'etc/x': 'x' }), join(base, 'lower.tar'));
    const upper = tarDirectory(writeTree(join(base, 'upper'), { 'etc/.wh...': '' }), join(base, 'upper.tar'));
    writeOciLayout(join(base, 'image'), [lower, upper], {});
    await assert.rejects(materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_ARGUMENT');
      assert.match(error.message, /malformed whiteout/);
      return true;
    });
    assert.ok(existsSync(join(base, 'lower/etc/x')));
  });
});
