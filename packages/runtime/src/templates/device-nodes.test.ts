/**
 * Issue 10, hole 5: an imported archive keeps no device nodes (nsbox makes a box's /dev
 * itself). A tarball and an image layer carrying the host console, /dev/mem's number, a
 * block device and a hard link to one of them come out without any of them, and with
 * their ordinary files, directories and fifos.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { materializeTemplate } from './index.js';
import { tarDirectory, useTempDirs, writeOciLayout } from './test-fixtures.js';

/** Every path below `root` with its kind, without following symlinks. */
function kinds(root: string, dir = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, dir))) {
    const path = dir ? `${dir}/${name}` : name;
    const stat = lstatSync(join(root, path));
    out[path] = stat.isCharacterDevice() ? 'char' : stat.isBlockDevice() ? 'block' : stat.isFIFO() ? 'fifo' : stat.isDirectory() ? 'dir' : 'file';
    if (stat.isDirectory()) Object.assign(out, kinds(root, path));
  }
  return out;
}

/** A tree with device nodes in /dev and elsewhere, and the harmless kinds besides. */
function treeWithDevices(dir: string): string {
  mkdirSync(join(dir, 'dev'), { recursive: true });
  mkdirSync(join(dir, 'srv'));
  execFileSync('mknod', [join(dir, 'dev/console'), 'c', '5', '1']);
  execFileSync('mknod', [join(dir, 'srv/mem'), 'c', '1', '1']);
  execFileSync('mknod', [join(dir, 'srv/disk'), 'b', '7', '0']);
  linkSync(join(dir, 'srv/mem'), join(dir, 'srv/mem-again'));
  execFileSync('mkfifo', [join(dir, 'srv/fifo')]);
  writeFileSync(join(dir, 'srv/file'), 'kept\n');
  return dir;
}

const withoutDevices = { dev: 'dir', srv: 'dir', 'srv/fifo': 'fifo', 'srv/file': 'file' };

describe('importing an archive with device nodes', function () {
  this.timeout(30_000);
  const tempDir = useTempDirs();

  it('extracts a tarball without its device nodes (and hard links to them), keeping the rest', async function () {
    if (process.getuid?.() !== 0) this.skip(); // mknod needs root
    const base = tempDir('devices');
    const archive = tarDirectory(treeWithDevices(join(base, 'src')), join(base, 'devices.tar'));
    const listing = execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' });
    assert.match(listing, /^c.* \.\/dev\/console$/m, 'the archive carries them');
    assert.match(listing, /^b.* \.\/srv\/disk$/m);
    const made = await materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.deepEqual(kinds(made.rootfs), withoutDevices);
  });

  it('extracts an image layer without its device nodes', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const base = tempDir('layer-devices');
    const layer = tarDirectory(treeWithDevices(join(base, 'src')), join(base, 'layer.tar'));
    writeOciLayout(join(base, 'image'), [layer], {});
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.deepEqual(kinds(made.rootfs), withoutDevices);
  });
});
