import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPluginPackages } from './discovery.js';
import { discoveryCacheFile, findPluginPackagesCached } from './discovery-cache.js';

describe('discovery cache', () => {
  let work: string;
  let nodeModules: string;
  let cacheDir: string;
  const addPackage = (name: string, nsbox: unknown) => {
    const dir = join(nodeModules, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, ...(nsbox === undefined ? {} : { nsbox }), exports: './index.js' }));
  };
  const names = () =>
    findPluginPackagesCached([nodeModules], cacheDir)
      .map((pkg) => pkg.packageName)
      .sort();

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'nsbox-test-discovery-'));
    nodeModules = join(work, 'node_modules');
    cacheDir = join(work, 'cache');
    addPackage('plain', undefined);
    addPackage('nsbox-plugin-a', { plugin: true });
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('answers as the scan does, and keeps the answer in a file', () => {
    assert.deepEqual(findPluginPackagesCached([nodeModules], cacheDir), findPluginPackages([nodeModules]));
    assert.ok(existsSync(discoveryCacheFile(cacheDir, [nodeModules])));
    assert.deepEqual(names(), ['nsbox-plugin-a']);
  });

  it('uses the kept answer while the folders do not change (a package.json edited in place is not re-read)', () => {
    assert.deepEqual(names(), ['nsbox-plugin-a']);
    writeFileSync(join(nodeModules, 'plain', 'package.json'), JSON.stringify({ name: 'plain', nsbox: { plugin: true }, exports: './index.js' }));
    assert.deepEqual(names(), ['nsbox-plugin-a']);
    assert.deepEqual(
      findPluginPackages([nodeModules])
        .map((pkg) => pkg.packageName)
        .sort(),
      ['nsbox-plugin-a', 'plain'],
    );
  });

  it('scans again when a package is added or removed, scoped ones included', () => {
    assert.deepEqual(names(), ['nsbox-plugin-a']);
    addPackage('nsbox-plugin-b', { plugin: true });
    assert.deepEqual(names(), ['nsbox-plugin-a', 'nsbox-plugin-b']);
    addPackage('@scope/c', { plugin: true });
    assert.deepEqual(names(), ['@scope/c', 'nsbox-plugin-a', 'nsbox-plugin-b']);
    addPackage('@scope/d', { plugin: true });
    assert.deepEqual(names(), ['@scope/c', '@scope/d', 'nsbox-plugin-a', 'nsbox-plugin-b']);
    rmSync(join(nodeModules, 'nsbox-plugin-a'), { recursive: true });
    assert.deepEqual(names(), ['@scope/c', '@scope/d', 'nsbox-plugin-b']);
  });

  it("scans again when a plugin's package.json changes", () => {
    assert.deepEqual(names(), ['nsbox-plugin-a']);
    writeFileSync(join(nodeModules, 'nsbox-plugin-a', 'package.json'), JSON.stringify({ name: 'nsbox-plugin-a', nsbox: { plugin: false } }));
    assert.deepEqual(names(), []);
  });

  it('finds a node_modules folder that appears later, and works when the cache cannot be written', () => {
    const later = join(work, 'later', 'node_modules');
    assert.deepEqual(findPluginPackagesCached([later, nodeModules], cacheDir).length, 1);
    mkdirSync(join(later, 'x'), { recursive: true });
    writeFileSync(join(later, 'x', 'package.json'), JSON.stringify({ name: 'x', nsbox: { plugin: true } }));
    assert.deepEqual(findPluginPackagesCached([later, nodeModules], cacheDir).length, 2);
    writeFileSync(join(work, 'not-a-dir'), '');
    assert.deepEqual(
      findPluginPackagesCached([nodeModules], join(work, 'not-a-dir', 'cache')).map((pkg) => pkg.packageName),
      ['nsbox-plugin-a'],
    );
  });
});
