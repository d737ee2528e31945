/** removeTree: the project's one recursive delete never crosses a mount, never follows a symlink. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountBelowError, native, removeTree, removeTreeSync } from '../lib/index.js';

function mount(...args: string[]): void {
  execFileSync('mount', args, { stdio: 'ignore' });
}

describe('removeTree', () => {
  let scratch: string;
  let mounted: string[];

  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: bind mounts need root');
      this.skip();
    }
  });

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'nsbox-test-rmtree-'));
    mounted = [];
  });

  afterEach(() => {
    for (const point of mounted.reverse()) {
      try {
        execFileSync('umount', ['-l', point], { stdio: 'ignore' });
      } catch {
        // unmounted by the test
      }
    }
    // Nothing is mounted below any more: a plain delete of the test's own scratch dir.
    rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * tree/ with files, a deep branch, a bind of outside/ (with a marker) at tree/a/mnt, a file
   * bind at tree/b/file-mnt, and symlinks to outside/ and to outside/marker.
   */
  function buildTree(): { tree: string; outside: string; marker: string; fileMarker: string } {
    const tree = join(scratch, 'tree');
    const outside = join(scratch, 'outside');
    mkdirSync(join(tree, 'a/mnt'), { recursive: true });
    mkdirSync(join(tree, 'b'), { recursive: true });
    mkdirSync(join(tree, 'deep/1/2/3/4/5'), { recursive: true });
    writeFileSync(join(tree, 'deep/1/2/3/4/5/leaf'), 'x');
    writeFileSync(join(tree, 'a/plain'), 'x');
    writeFileSync(join(tree, 'b/file-mnt'), '');
    mkdirSync(outside);
    const marker = join(outside, 'marker');
    writeFileSync(marker, 'survives');
    const fileMarker = join(scratch, 'file-marker');
    writeFileSync(fileMarker, 'survives too');
    symlinkSync(outside, join(tree, 'link-to-outside'));
    symlinkSync(marker, join(tree, 'b/link-to-marker'));
    mount('--bind', outside, join(tree, 'a/mnt'));
    mounted.push(join(tree, 'a/mnt'));
    mount('--bind', fileMarker, join(tree, 'b/file-mnt'));
    mounted.push(join(tree, 'b/file-mnt'));
    return { tree, outside, marker, fileMarker };
  }

  it('negative control: a delete that does not compare mounts wipes what is mounted below the tree', () => {
    const { tree, marker, fileMarker } = buildTree();
    // rm -rf without --one-file-system walks into the bind (Node 20's rmSync instead stops
    // with EBUSY at the first mount point, the tree half deleted).
    execFileSync('umount', [join(tree, 'b/file-mnt')]);
    assert.throws(() => execFileSync('rm', ['-rf', '--', tree], { stdio: 'pipe' }), /Device or resource busy/);
    assert.equal(existsSync(marker), false, 'the marker on the bind-mounted outside dir was deleted through the mount');
    assert.equal(existsSync(fileMarker), true);
  });

  it('removes everything on the tree mount, leaves mounts and symlink targets, and names the mounts', async () => {
    const { tree, outside, marker, fileMarker } = buildTree();
    const error = await removeTree(tree).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof MountBelowError, `rejects with MountBelowError, got ${error}`);
    assert.equal(error.code, 'EBUSY');
    assert.equal(error.path, tree);
    assert.deepEqual([...error.mounts].sort(), [join(tree, 'a/mnt'), join(tree, 'b/file-mnt')]);
    assert.match(error.message, new RegExp(`${join(tree, 'a/mnt')}.*never enters`));
    assert.equal(readFileSync(marker, 'utf8'), 'survives');
    assert.equal(readFileSync(fileMarker, 'utf8'), 'survives too');
    assert.deepEqual(readdirSync(outside), ['marker']);
    // All the rest is gone: the deep branch, plain files, the symlinks themselves.
    assert.deepEqual(readdirSync(tree).sort(), ['a', 'b']);
    assert.deepEqual(readdirSync(join(tree, 'a')), ['mnt']);
    assert.deepEqual(readdirSync(join(tree, 'b')), ['file-mnt']);
    // Once unmounted, the same call finishes the job.
    for (const point of mounted) execFileSync('umount', [point]);
    await removeTree(tree);
    assert.equal(existsSync(tree), false);
    assert.equal(readFileSync(marker, 'utf8'), 'survives');
  });

  it('never enters a mount of another filesystem either (tmpfs), nor follows a symlinked root', async () => {
    const tree = join(scratch, 'tree');
    mkdirSync(join(tree, 'tmp'), { recursive: true });
    mount('-t', 'tmpfs', 'nsbox-test', join(tree, 'tmp'));
    mounted.push(join(tree, 'tmp'));
    writeFileSync(join(tree, 'tmp/marker'), 'x');
    assert.throws(
      () => removeTreeSync(tree),
      (error: unknown) => error instanceof MountBelowError && error.mounts[0] === join(tree, 'tmp'),
    );
    assert.equal(existsSync(join(tree, 'tmp/marker')), true);

    const outside = join(scratch, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'marker'), 'x');
    symlinkSync(outside, join(scratch, 'root-link'));
    await removeTree(join(scratch, 'root-link'));
    await removeTree(`${join(scratch, 'root-link')}/`); // gone already; a trailing slash must not follow it either
    assert.equal(lstatSync(join(scratch, 'root-link'), { throwIfNoEntry: false }), undefined, 'the symlink itself is removed');
    assert.equal(existsSync(join(outside, 'marker')), true, 'its target is not');
  });

  it('empties a tree that is itself a mount point and keeps it (the caller owns that mount)', async () => {
    const point = join(scratch, 'image');
    mkdirSync(point);
    mount('-t', 'tmpfs', 'nsbox-test', point);
    mounted.push(point);
    mkdirSync(join(point, 'x/y'), { recursive: true });
    writeFileSync(join(point, 'x/y/z'), 'x');
    await removeTree(point);
    assert.equal(native().isMountpoint(point), true);
    assert.deepEqual(readdirSync(point), []);
  });

  it('takes a Buffer path, for names that are not UTF-8', () => {
    const name = Buffer.concat([Buffer.from(`${scratch}/`), Buffer.from([0x6e, 0xff, 0xfe])]);
    mkdirSync(name);
    writeFileSync(Buffer.concat([name, Buffer.from('/inside')]), 'x');
    removeTreeSync(name);
    assert.deepEqual(readdirSync(scratch), []);
  });

  it('removes a plain file, does nothing for a missing path, refuses / and an empty path', async () => {
    writeFileSync(join(scratch, 'file'), 'x');
    await removeTree(join(scratch, 'file'));
    assert.equal(existsSync(join(scratch, 'file')), false);
    await removeTree(join(scratch, 'missing'));
    removeTreeSync(join(scratch, 'missing'));
    for (const path of ['/', '//', '']) {
      await assert.rejects(removeTree(path), (error: NodeJS.ErrnoException) => error.code === 'EINVAL' && /refusing/.test(error.message));
    }
    assert.ok(existsSync('/etc'));
  });
});
