import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reachableByOthers } from './host-reach.js';
import { isolationHostSettings } from './host-settings.js';

describe('whether other host users can reach a path (the LXC rule)', () => {
  let dir: string;
  beforeEach(function () {
    if (process.getuid?.() !== 0) this.skip(); // ownership checks need a root-owned tree
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-reach-')); // 0700, below the sticky /tmp
  });
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('is closed below a root-owned directory others may not search, whatever the path itself allows', () => {
    const inside = join(dir, 'rootfs');
    mkdirSync(inside, { mode: 0o755 });
    assert.equal(reachableByOthers(inside), undefined);
    chmodSync(dir, 0o744);
    assert.equal(reachableByOthers(inside), undefined, 'reading the names is not walking in');
    chmodSync(dir, 0o750);
    assert.match(reachableByOthers(inside) ?? '', /no directory above it is closed/, "the group's search counts too");
  });

  it('names the directory that lets others in', () => {
    const inside = join(dir, 'a', 'rootfs');
    mkdirSync(inside, { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'a'), 0o711);
    assert.match(reachableByOthers(inside) ?? '', /no directory above it is closed/, 'o+x all the way');
    assert.match(reachableByOthers(dir) ?? '', /no directory above it is closed/, 'the sticky /tmp is no writable ancestor, and closes nothing');
    chmodSync(join(dir, 'a'), 0o777);
    assert.match(reachableByOthers(inside) ?? '', /\(mode 0777\) is writable by group or others/);
    chmodSync(join(dir, 'a'), 0o700);
    chownSync(join(dir, 'a'), 65534, 65534);
    assert.match(reachableByOthers(inside) ?? '', /is owned by uid 65534, not root/);
    assert.equal(reachableByOthers('/'), "it is '/' itself");
  });
});

describe('the host settings of the plugin', () => {
  it('default to every protection on, and name a bad field', () => {
    assert.deepEqual(isolationHostSettings(undefined), {
      setuidInIdmappedMounts: false,
      reachableSources: false,
      realtimeScheduling: false,
      rangeCooldownSeconds: 600,
    });
    assert.throws(
      () => isolationHostSettings({ isolation: { reachableSources: 'yes' } }),
      (error: Error & { code?: string; details?: { field?: string } }) =>
        error.code === 'E_INVALID_CONFIG' && error.details?.field === 'settings.isolation.reachableSources',
    );
    assert.throws(() => isolationHostSettings({ isolation: { rangeCooldown: 1 } }), /settings\.isolation: Unrecognized key/);
  });
});
