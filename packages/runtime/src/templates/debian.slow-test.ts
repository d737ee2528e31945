/**
 * The debian-12 built-in for real: debootstrap from deb.debian.org (minutes). Not part of the
 * fast suite (the name does not match *.test.ts); run it with
 *   npx mocha --no-config --node-option import=tsx --node-option conditions=source --timeout 1800000 \
 *     packages/runtime/src/templates/debian.slow-test.ts
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { listTemplates, materializeTemplate, type TemplateProgress } from './index.js';
import { useTempDirs } from './test-fixtures.js';
import { mountsUnder } from './tree-ops.js';

describe('the debian-12 built-in (debootstrap, slow)', function () {
  this.timeout(30 * 60_000);
  const tempDir = useTempDirs();

  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('  skipped: debootstrap needs root');
      this.skip();
    }
  });

  it('cancelled midway (proc mounted in the target), leaves nothing in the cache and no mount behind', async () => {
    const base = tempDir('debian-cancel');
    const cacheDir = join(base, 'cache');
    const controller = new AbortController();
    const seen: TemplateProgress[] = [];
    let mountsAtCancel = 0;
    const started = Date.now();
    const attempt = materializeTemplate('debian-12', join(base, 'box'), {
      cacheDir,
      signal: controller.signal,
      onProgress: (progress) => {
        seen.push(progress);
        // 70%: unpacking in the second stage, where debootstrap has mounted proc and sysfs in the target.
        if (progress.step === 'build' && (progress.percent ?? 0) >= 70 && !controller.signal.aborted) {
          mountsAtCancel = mountsUnder(cacheDir).length;
          controller.abort(new Error('test cancels'));
        }
      },
    });
    await assert.rejects(attempt, (error: NsboxError) => {
      assert.equal(error.code, 'E_RUNTIME', error.message);
      assert.equal(error.details['cancelled'], true);
      return true;
    });
    console.log(`      cancelled after ${((Date.now() - started) / 1000).toFixed(1)} s at ${seen.at(-1)?.percent}%, ${mountsAtCancel} mounts in the target`);
    assert.ok(mountsAtCancel > 0, 'debootstrap had mounted proc or sysfs in the work directory');
    assert.deepEqual(readdirSync(cacheDir), [], 'nothing half-built in the cache');
    assert.deepEqual(mountsUnder(base), []);
    assert.equal(existsSync(join(base, 'box')), false);
  });

  it('builds bookworm minbase once with progress, then copies it into boxes', async () => {
    const base = tempDir('debian');
    const cacheDir = join(base, 'cache');
    const seen: TemplateProgress[] = [];
    let started = Date.now();
    const made = await materializeTemplate('debian-12', join(base, 'box1'), {
      cacheDir,
      onProgress: (progress) => {
        if (progress.step === 'build' && seen.at(-1)?.message !== progress.message && progress.message) {
          console.log(`      ${progress.percent ?? ''}% ${progress.message}`);
        }
        seen.push(progress);
      },
    });
    const buildSeconds = (Date.now() - started) / 1000;
    console.log(`      built and copied in ${buildSeconds.toFixed(1)} s`);
    assert.equal(made.kind, 'builtin');
    const percents = seen.filter((p) => p.step === 'build' && p.percent !== undefined).map((p) => p.percent!);
    assert.ok(percents.length > 20, `debootstrap reported progress (${percents.length} updates)`);
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => a - b),
      'progress only grows',
    );
    assert.equal(percents.at(-1), 100);
    assert.match(readFileSync(join(made.rootfs, 'etc/debian_version'), 'utf8'), /^12\./);
    assert.equal(existsSync(join(made.rootfs, 'etc/hostname')), false, "the box's hostname is its UTS name");
    assert.equal(readlinkSync(join(made.rootfs, 'usr/sbin/init')), '/lib/systemd/systemd', 'systemd-sysv: systemd is the init');
    assert.equal(readlinkSync(join(made.rootfs, 'etc/systemd/system/systemd-udevd.service')), '/dev/null', 'udev is masked');
    assert.match(readFileSync(join(made.rootfs, 'etc/nsbox/masked-units'), 'utf8'), /^systemd-timesyncd\.service\t.*EPERM/m);
    assert.equal(readFileSync(join(made.rootfs, 'etc/resolv.conf'), 'utf8'), '');
    const apt = spawnSync('chroot', [made.rootfs, '/bin/sh', '-c', 'apt-get --version | head -1; dpkg -s apt | grep Status'], { encoding: 'utf8' });
    assert.match(apt.stdout, /^apt 2\.6.*\nStatus: install ok installed\n$/, apt.stderr);
    assert.deepEqual(readdirSync(cacheDir), ['debian-12']);
    assert.deepEqual(mountsUnder(base), []);
    assert.ok(listTemplates(cacheDir).find((t) => t.name === 'debian-12')?.cached);

    started = Date.now();
    const again: TemplateProgress[] = [];
    await materializeTemplate('debian-12', join(base, 'box2'), { cacheDir, onProgress: (p) => again.push(p) });
    console.log(`      second box (a copy) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(!again.some((p) => p.step === 'build'));
    const du = spawnSync('du', ['-sh', join(cacheDir, 'debian-12')], { encoding: 'utf8' }).stdout.split('\t')[0];
    console.log(`      cached template: ${du}`);
  });
});
