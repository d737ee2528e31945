import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { materializeTemplate, type TemplateProgress } from './index.js';
import { run, tarDirectory, useTempDirs, writeDockerArchive, writeOciLayout, writeTree } from './test-fixtures.js';

const CONFIG = { Entrypoint: ['/bin/app'], Cmd: ['--serve', '8080'], Env: ['PATH=/usr/bin:/bin', 'MODE=test'], WorkingDir: '/srv', User: '1000:1000' };
const EXPECTED_CONFIG = { entrypoint: ['/bin/app'], cmd: ['--serve', '8080'], env: ['PATH=/usr/bin:/bin', 'MODE=test'], workingDir: '/srv', user: '1000:1000' };

/**
 * Two layers: the lower one a small tree, the upper one deleting a file (.wh.), replacing a
 * directory's contents (.wh..wh..opq), replacing a file by a directory, and adding files.
 * The upper layer also carries a file beside its own whiteout of the same name, which must
 * survive: whiteouts hide lower layers only.
 */
function writeLayers(base: string): [string, string] {
  const lower = writeTree(join(base, 'layer1'), {
    'etc/hostname': 'lower\n',
    'etc/removed.conf': 'gone\n',
    'etc/removed.d/a': 'a',
    'opaque/old-1': 'old',
    'opaque/sub/old-2': 'old',
    'became-dir': 'file in lower\n',
    'bin/sh': '#!fake\n',
    'kept/lower': 'kept\n',
  });
  const upper = writeTree(join(base, 'layer2'), {
    'etc/.wh.removed.conf': '',
    'etc/.wh.removed.d': '',
    'etc/hostname': 'upper\n',
    'opaque/.wh..wh..opq': '',
    'opaque/new': 'new',
    'became-dir/inside': 'dir now\n',
    'kept/upper': 'added\n',
    'same-layer/.wh.mine': '',
    'same-layer/mine': 'stays\n',
  });
  return [tarDirectory(lower, join(base, 'layer1.tar.gz')), tarDirectory(upper, join(base, 'layer2.tar'))];
}

function assertFlattened(rootfs: string): void {
  assert.equal(readFileSync(join(rootfs, 'etc/hostname'), 'utf8'), 'upper\n');
  assert.equal(existsSync(join(rootfs, 'etc/removed.conf')), false);
  assert.equal(existsSync(join(rootfs, 'etc/removed.d')), false);
  assert.deepEqual(readdirSync(join(rootfs, 'opaque')), ['new']);
  assert.equal(readFileSync(join(rootfs, 'became-dir/inside'), 'utf8'), 'dir now\n');
  assert.deepEqual(readdirSync(join(rootfs, 'kept')).sort(), ['lower', 'upper']);
  assert.equal(readFileSync(join(rootfs, 'same-layer/mine'), 'utf8'), 'stays\n');
  assert.equal(readFileSync(join(rootfs, 'bin/sh'), 'utf8'), '#!fake\n');
  const whiteouts = run('find', [rootfs, '-name', '.wh.*']);
  assert.equal(whiteouts, '', 'no whiteout file is left in the rootfs');
}

describe('importing images', function () {
  this.timeout(30_000);
  const tempDir = useTempDirs();

  it('applies an OCI layout`s layers in order with whiteouts and returns the image config', async () => {
    const base = tempDir('oci-layout');
    writeOciLayout(join(base, 'image'), writeLayers(base), CONFIG);
    const progress: TemplateProgress[] = [];
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache'), onProgress: (p) => progress.push(p) });
    assert.equal(made.kind, 'oci-layout');
    assert.deepEqual(made.config, EXPECTED_CONFIG);
    assertFlattened(made.rootfs);
    const layers = progress.filter((p) => p.step === 'layer');
    assert.ok(layers.some((p) => p.message?.startsWith('layer 1 of 2')));
    assert.ok(layers.some((p) => p.message?.startsWith('layer 2 of 2') && p.percent === 100));
  });

  it('picks this host`s platform from a multi-platform index', async () => {
    const base = tempDir('oci-platforms');
    writeOciLayout(join(base, 'image'), writeLayers(base), { Cmd: ['/bin/sh'] }, { platforms: ['linux/arm64', 'linux/amd64', 'windows/amd64'] });
    const made = await materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.deepEqual(made.config, { cmd: ['/bin/sh'] });
    assertFlattened(made.rootfs);
  });

  it('refuses a layer whose bytes do not match its digest', async () => {
    const base = tempDir('oci-digest');
    const manifestLayers = writeLayers(base);
    writeOciLayout(join(base, 'image'), manifestLayers, {});
    const blobs = join(base, 'image/blobs/sha256');
    const layer1 = run('sha256sum', [manifestLayers[0]]).split(' ')[0]!;
    writeFileSync(join(blobs, layer1), readFileSync(manifestLayers[1]));
    await assert.rejects(materializeTemplate(join(base, 'image'), join(base, 'box'), { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_ARGUMENT');
      assert.match(error.message, /does not match its digest/);
      return true;
    });
    assert.equal(existsSync(join(base, 'box')), false);
  });

  it('imports a docker-archive (docker save / podman save) and leaves no staging behind', async () => {
    const base = tempDir('docker-archive');
    const archive = writeDockerArchive(base, join(base, 'image.tar'), writeLayers(base), CONFIG);
    const progress: TemplateProgress[] = [];
    const made = await materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache'), onProgress: (p) => progress.push(p) });
    assert.equal(made.kind, 'docker-archive');
    assert.deepEqual(made.config, EXPECTED_CONFIG);
    assertFlattened(made.rootfs);
    assert.ok(progress.some((p) => p.step === 'unpack'));
    assert.deepEqual(readdirSync(join(base, 'cache')), [], 'the staging directory is gone');
  });

  it('imports an oci-archive (podman save --format oci-archive), gzipped too', async () => {
    const base = tempDir('oci-archive');
    writeOciLayout(join(base, 'image'), writeLayers(base), CONFIG);
    const archive = tarDirectory(join(base, 'image'), join(base, 'image.oci.tar.gz'));
    const made = await materializeTemplate(archive, join(base, 'box'), { cacheDir: join(base, 'cache') });
    assert.equal(made.kind, 'oci-archive');
    assert.deepEqual(made.config, EXPECTED_CONFIG);
    assertFlattened(made.rootfs);
    assert.deepEqual(readdirSync(join(base, 'cache')), []);
  });

  it('refuses a save archive whose manifest names a file outside it', async () => {
    const base = tempDir('docker-archive-escape');
    const staging = writeTree(join(base, 'staging'), { 'config.json': '{}' });
    writeFileSync(join(staging, 'manifest.json'), JSON.stringify([{ Config: 'config.json', Layers: ['../../../../etc/shadow'] }]));
    run('tar', ['-cf', join(base, 'image.tar'), '-C', staging, 'manifest.json', 'config.json']);
    await assert.rejects(materializeTemplate(join(base, 'image.tar'), join(base, 'box'), { cacheDir: join(base, 'cache') }), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_ARGUMENT');
      assert.match(error.message, /outside itself/);
      return true;
    });
    assert.equal(existsSync(join(base, 'box')), false);
    assert.deepEqual(readdirSync(join(base, 'cache')), []);
  });
});
