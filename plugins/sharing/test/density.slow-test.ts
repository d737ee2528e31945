/**
 * The figures on `debian-12` (slow: the template is built with debootstrap once, then
 * NSBOX_SHARING_BOXES boxes, 100 by default, are made from it). Run it with
 *   npx mocha --no-config --node-option import=tsx --node-option conditions=source --timeout 1800000 \
 *     plugins/sharing/test/density.slow-test.ts
 * Asserts: a box from the cached template is created in ≤ 50 ms (median); N boxes that each
 * change a few files use ≤ 1.1 × one template plus their changes; a box's first write to a
 * 50 MB template file copies it up (timed and printed beside the assertion that it did); N boxes
 * that read the same template file grow the page cache by about one copy of it, N copied boxes
 * by N (the file's resident bytes, fincore, after its pages were dropped with fadvise).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OWN_UPPER } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { diskUse, openSharingHost, type SharingTestHost } from './support.js';

describe('sharing: density on debian-12 (slow)', function () {
  this.timeout(30 * 60_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'boxes from debian-12');
  });

  beforeEach(async () => {
    t = await openSharingHost(cleanup);
  });

  it('creates N boxes from the cached debian-12 in ≤ 50 ms each, on ≤ 1.1 × one template plus their changes', async () => {
    const n = Number(process.env.NSBOX_SHARING_BOXES ?? 100);
    const config = { template: 'debian-12', sharing: { template: 'shared' }, process: { args: ['sleep', '100000'] } };
    // The boot suites' debian-12 (built once per machine) seeds this host's template cache: no second debootstrap.
    const shared = join(process.env.NSBOX_TEST_TEMPLATE_CACHE ?? '/var/tmp/nsbox-test-templates', 'debian-12');
    if (existsSync(shared)) {
      mkdirSync(join(t.stateDir, 'templates'), { recursive: true });
      execFileSync('cp', ['-a', shared, join(t.stateDir, 'templates', 'debian-12')]);
    }
    await t.host.manager.create({ name: 'first', config }); // builds the template and its layer once
    const timings: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const started = process.hrtime.bigint();
      await t.host.manager.create({ name: `d${i}`, config });
      timings.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const [layer] = t.driver.layers.versions();
    const template = layer?.bytes as number;
    // Each box changes something of its own (a start, a write, a stop), ten at a time.
    for (let i = 0; i < n; i += 10) {
      const batch = Array.from({ length: Math.min(10, n - i) }, (_, k) => `d${i + k}`);
      for (const name of batch) await t.host.manager.start(name);
      for (const name of batch) await t.exec(name, `echo ${name} > /etc/hostname && dd if=/dev/urandom of=/root/own bs=4k count=4 2>/dev/null`);
      for (const name of batch) await t.host.manager.stop(name, { timeoutMs: 0 });
    }
    const changes = Array.from({ length: n }, (_, i) => diskUse(join(t.boxDir(`d${i}`), 'rootfs', OWN_UPPER))).reduce((a, b) => a + b, 0);
    const roots = Array.from({ length: n }, (_, i) => diskUse(join(t.boxDir(`d${i}`), 'rootfs'))).reduce((a, b) => a + b, 0);
    timings.sort((a, b) => a - b);
    const median = timings[Math.floor(n / 2)] as number;
    console.log(
      `      ${n} boxes from debian-12 (${(template / 2 ** 20).toFixed(1)} MiB): ${((template + roots) / 2 ** 20).toFixed(1)} MiB, their changes ${(changes / 2 ** 20).toFixed(1)} MiB; create median ${median.toFixed(1)} ms, slowest ${timings.at(-1)?.toFixed(1)} ms`,
    );
    assert.ok(median <= 50, `create median ${median.toFixed(1)} ms ≤ 50 ms`);
    assert.ok(template + roots <= 1.1 * template + changes, `${template + roots} ≤ 1.1 × ${template} + ${changes}`);
  });

  it("copies a 50 MB template file up on a box's first write to it, and only then", async () => {
    const big = join(t.template, 'big');
    execFileSync('dd', ['if=/dev/urandom', `of=${big}`, 'bs=1M', 'count=50'], { stdio: 'ignore' });
    await t.box('writer');
    const started = process.hrtime.bigint();
    const wrote = await t.exec('writer', 'echo x >> /big && echo ok');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(wrote.stdout.trim(), 'ok');
    await t.host.manager.stop('writer', { timeoutMs: 0 });
    const upper = diskUse(join(t.boxDir('writer'), 'rootfs', OWN_UPPER));
    console.log(`      first write to a 50 MiB template file: ${ms.toFixed(0)} ms (the exec included); the upper holds ${(upper / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(upper >= 50 * 2 ** 20, 'the whole file was copied up');
  });

  it('grows the page cache about once for N boxes reading one template file, and N times for N copies', async () => {
    const n = Number(process.env.NSBOX_SHARING_PAGE_CACHE_BOXES ?? 50);
    const size = 16 * 2 ** 20;
    execFileSync('dd', ['if=/dev/urandom', `of=${join(t.template, 'blob')}`, `bs=${size}`, 'count=1'], { stdio: 'ignore' });
    // The resident bytes of host files (their page cache), and dropping just those files' pages.
    const resident = (files: string[]) =>
      files.reduce((sum, file) => sum + Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim()), 0);
    const drop = (files: string[]) => {
      // Written just now, the pages are dirty, and fadvise(DONTNEED) leaves dirty pages: sync first.
      execFileSync('sync', files);
      for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    };
    const readAll = async (mode: 'shared' | 'copy'): Promise<string[]> => {
      const names = Array.from({ length: n }, (_, i) => `${mode}${i}`);
      for (const name of names) await t.box(name, { sharing: { template: mode } });
      // The host files behind each box's /blob: one template layer for all, or a copy each.
      const layer = t.driver.layers.versions().find((version) => version.boxes.length > 0);
      const files = mode === 'shared' ? [join(layer?.dir as string, 'blob')] : names.map((name) => join(t.boxDir(name), 'rootfs', 'blob'));
      drop(files);
      assert.ok(resident(files) < size / 8, `the pages were dropped: ${resident(files)}`);
      for (const name of names) assert.equal((await t.exec(name, 'cat /blob > /dev/null && echo ok')).stdout.trim(), 'ok');
      return files;
    };
    const shared = resident(await readAll('shared'));
    const copies = resident(await readAll('copy'));
    console.log(
      `      ${n} boxes read a ${size / 2 ** 20} MiB template file: page cache ${(shared / 2 ** 20).toFixed(1)} MiB shared, ${(copies / 2 ** 20).toFixed(1)} MiB as copies`,
    );
    assert.ok(shared >= 0.9 * size && shared <= 1.1 * size, `shared: about one copy (${shared} bytes)`);
    assert.ok(copies >= 0.9 * n * size, `copies: one each (${copies} bytes)`);
  });
});
