/**
 * Shared templates on real boxes, real overlayfs: a box from a template runs on the template's
 * layer with an upper layer of its own (a user-namespaced box through its idmapped rootfs); what
 * it deletes, replaces or writes never reaches the shared copy; destroy removes its upper only;
 * a new template version goes to new boxes while existing ones keep theirs; the upper lives in
 * the box's disk image under a disk limit; N boxes cost one template plus their changes.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { OWN_UPPER } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { diskUse, mountsUnder, openSharingHost, type SharingTestHost } from './support.js';

describe('sharing: boxes share a template copy-on-write', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'sharing on real boxes');
  });

  beforeEach(async () => {
    t = await openSharingHost(cleanup);
  });

  function layerDirs(): string[] {
    return t.driver.layers.versions().map((layer) => layer.dir);
  }

  it('runs a box on the shared layer: deletes, replacements and writes stay in its own upper, the template never changes', async () => {
    await t.box('cow');
    const [layer] = layerDirs();
    assert.ok(layer, 'the template became a layer');
    const motd = join(layer, 'etc', 'motd');
    const boxDir = t.boxDir('cow');
    assert.deepEqual(mountsUnder(boxDir).sort(), [join(boxDir, 'lowers', '0'), join(boxDir, 'rootfs')], 'the idmapped layer, the overlay on the box root');
    assert.equal((await t.exec('cow', 'cat /etc/motd')).stdout, 'from the template\n', 'the box sees the template');
    assert.equal((await t.exec('cow', 'id -u; stat -c %u /bin/busybox')).stdout, '0\n0\n', 'its root owns the shared files (idmapped)');
    const changed = await t.exec(
      'cow',
      'rm /etc/motd && echo replaced > /etc/hostname.new && mv /etc/hostname.new /etc/passwd && echo added >> /etc/group && echo new > /new-file && echo ok',
    );
    assert.equal(changed.stdout.trim(), 'ok', changed.stderr);
    assert.equal((await t.exec('cow', 'cat /etc/motd 2>&1 || echo gone')).stdout.trim().split('\n').at(-1), 'gone', 'the box deleted its view');
    assert.equal(readFileSync(motd, 'utf8'), 'from the template\n', 'the shared copy is untouched');
    assert.doesNotMatch(readFileSync(join(layer, 'etc', 'passwd'), 'utf8'), /replaced/, 'a replaced file did not reach the layer');
    assert.doesNotMatch(readFileSync(join(layer, 'etc', 'group'), 'utf8'), /added/, 'an appended file was copied up');
    assert.equal(existsSync(join(layer, 'new-file')), false);
    // The box's own upper (under the mount, seen from a second mount of its filesystem's tree: the record says where).
    const upper = t.driver.layers.of(t.host.manager.get('cow'))?.upper as string;
    assert.equal(upper, join(boxDir, 'rootfs', OWN_UPPER));
    await t.host.manager.stop('cow', { timeoutMs: 0 });
    assert.deepEqual(mountsUnder(boxDir), [], 'stop takes the overlay down');
    assert.match(readFileSync(join(upper, 'etc', 'group'), 'utf8'), /added/, 'the write copied the file up');
    assert.equal(readFileSync(join(upper, 'new-file'), 'utf8'), 'new\n');
    assert.ok(lstatSync(join(upper, 'etc', 'motd')).isCharacterDevice(), 'the delete is a whiteout in the upper');
    await t.host.manager.start('cow');
    assert.equal((await t.exec('cow', 'cat /new-file; cat /etc/motd 2>/dev/null || echo gone')).stdout, 'new\ngone\n', 'its changes survive a restart');
    const info = (await new LocalBoxApi(t.host).details('cow')).sharing as { layers: { template: string }[]; mounted: boolean };
    assert.equal(info.layers[0]?.template, t.template, 'nsbox info names the layer');
    assert.equal(info.mounted, true);

    await t.host.manager.destroy('cow', { force: true });
    assert.equal(existsSync(boxDir), false, 'destroy removed the box and its upper');
    assert.equal(readFileSync(motd, 'utf8'), 'from the template\n', 'and left the shared layer');
    assert.deepEqual(mountsUnder(t.host.stateDir), [], 'no mount left');
  });

  it('gives new boxes a new template version while existing boxes keep theirs; prune removes a version only once no box uses it', async () => {
    await t.box('old');
    writeFileSync(join(t.template, 'etc', 'motd'), 'version two\n');
    assert.equal((await t.exec('old', 'cat /etc/motd')).stdout, 'from the template\n', 'the template directory is not read by running boxes');
    const fresh = await t.driver.layers.refresh(t.template);
    await t.box('new');
    assert.equal((await t.exec('new', 'cat /etc/motd')).stdout, 'version two\n', 'a new box gets the new version');
    assert.equal((await t.exec('old', 'cat /etc/motd')).stdout, 'from the template\n', 'the old box keeps its version');
    await t.host.manager.stop('old', { timeoutMs: 0 });
    await t.host.manager.start('old');
    assert.equal((await t.exec('old', 'cat /etc/motd')).stdout, 'from the template\n', 'also across a restart');
    const versions = t.driver.layers.versions();
    assert.equal(versions.length, 2);
    const [first, second] = versions;
    assert.deepEqual(first?.boxes, [t.host.manager.get('old').id]);
    assert.deepEqual(second?.boxes, [t.host.manager.get('new').id]);
    assert.equal(second?.version, fresh.version);
    assert.equal(second?.current, true);
    assert.deepEqual(t.driver.layers.prune(), [], 'both versions are in use');
    await t.host.manager.destroy('old', { force: true });
    assert.deepEqual(
      t.driver.layers.prune().map((layer) => layer.version),
      [first?.version],
      'the old version goes once its last box did',
    );
    assert.equal(existsSync(first?.dir as string), false);
    assert.equal((await t.exec('new', 'cat /etc/motd')).stdout, 'version two\n', 'the current one stays');
  });

  it('rebases a stopped box onto the new version, keeping its changes; the dry run lists the conflicts and changes nothing', async () => {
    await t.box('rb');
    const changed = await t.exec(
      'rb',
      'echo mine > /etc/motd && rm /etc/group && echo own > /etc/own && mkdir -p /srv/data && echo x > /srv/data/f && echo ok',
    );
    assert.equal(changed.stdout.trim(), 'ok', changed.stderr);
    writeFileSync(join(t.template, 'etc', 'motd'), 'version two\n');
    writeFileSync(join(t.template, 'etc', 'group'), 'root:x:0:\nnew:x:5:\n');
    writeFileSync(join(t.template, 'etc', 'only-in-two'), 'new\n');
    const [before] = t.driver.layers.versions();
    const fresh = await t.driver.layers.refresh(t.template);
    const api = new LocalBoxApi(t.host);
    await assert.rejects(
      api.runAction('sharing', 'rebase', { box: 'rb', dryRun: true }),
      (error: NsboxError) => error.code === 'E_INVALID_STATE',
      'not while it runs',
    );
    await t.host.manager.stop('rb', { timeoutMs: 0 });
    const dry = (await api.runAction('sharing', 'rebase', { box: 'rb', dryRun: true })) as { conflicts: string[]; applied: boolean; from: string; to: string };
    assert.deepEqual(dry.conflicts, ['etc/group', 'etc/motd'], 'what the box changed and the template changed too');
    assert.deepEqual([dry.from, dry.to, dry.applied], [before?.version, fresh.version, false]);
    assert.equal(t.driver.layers.of(t.host.manager.get('rb'))?.lowers[0]?.version, before?.version, 'the dry run changed nothing');
    const done = (await api.runAction('sharing', 'rebase', { box: 'rb' })) as { applied: boolean };
    assert.equal(done.applied, true);
    await t.host.manager.start('rb');
    const seen = await t.exec('rb', 'cat /etc/motd /etc/own /etc/only-in-two /srv/data/f; cat /etc/group 2>/dev/null || echo no-group');
    assert.equal(seen.stdout, 'mine\nown\nnew\nx\nno-group\n', 'its own changes stay, the new version shows elsewhere');
    assert.deepEqual(
      t.driver.layers.versions().map((layer) => layer.boxes.length),
      [0, 1],
      'the box is on the new version now',
    );
  });

  it('puts the upper layer in the box’s disk image under a disk limit: df shows the limit and a write beyond it fails', async () => {
    await t.box('disk', { limits: { disk: '32M' } });
    const boxDir = t.boxDir('disk');
    const df = (await t.exec('disk', 'df -k -P / | tail -n 1')).stdout.trim().split(/\s+/);
    const sizeKiB = Number(df[1]);
    assert.ok(sizeKiB > 28 * 1024 && sizeKiB <= 32 * 1024, `df / shows the 32M image, not the host (${sizeKiB} KiB)`);
    assert.equal((await t.exec('disk', 'cat /etc/motd')).stdout, 'from the template\n', 'on the shared layer');
    const fill = await t.exec('disk', 'dd if=/dev/zero of=/big bs=1M count=64 2>&1; echo rc=$?');
    assert.match(fill.stdout, /No space left on device/, 'the limit holds');
    const image = join(boxDir, 'disk', OWN_UPPER);
    assert.deepEqual(
      mountsUnder(boxDir).sort(),
      [join(boxDir, 'disk'), join(boxDir, 'disk'), join(boxDir, 'lowers', '0')],
      'the image, the overlay on it, the idmapped layer',
    );
    await t.host.manager.stop('disk', { timeoutMs: 0 });
    assert.deepEqual(mountsUnder(boxDir), [], 'both taken down at stop');
    assert.equal(existsSync(image), false, 'the upper lived in the image');
  });

  it('creates a box from a cached template without copying it, and N boxes cost one template plus their changes', async () => {
    const n = 6;
    await t.create('warm');
    const timings: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const started = process.hrtime.bigint();
      await t.create(`many${i}`);
      timings.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    await t.create('copied', { sharing: { template: 'copy' } });
    for (let i = 0; i < n; i += 1) await t.host.manager.start(`many${i}`);
    for (let i = 0; i < n; i += 1) await t.exec(`many${i}`, `echo change-${i} > /etc/motd && dd if=/dev/urandom of=/own bs=4k count=16 2>/dev/null`);
    const [layer] = t.driver.layers.versions();
    const template = layer?.bytes as number;
    for (let i = 0; i < n; i += 1) await t.host.manager.stop(`many${i}`, { timeoutMs: 0 });
    const changes = Array.from({ length: n }, (_, i) => diskUse(join(t.boxDir(`many${i}`), 'rootfs', OWN_UPPER)));
    // Each box's root: its upper and work directories (its spec and console log are bookkeeping every box has, shared or not).
    const boxes = Array.from({ length: n }, (_, i) => diskUse(join(t.boxDir(`many${i}`), 'rootfs')));
    const total = template + boxes.reduce((a, b) => a + b, 0);
    const own = changes.reduce((a, b) => a + b, 0);
    const copied = diskUse(join(t.boxDir('copied'), 'rootfs'));
    timings.sort((a, b) => a - b);
    const median = timings[Math.floor(n / 2)] as number;
    console.log(
      `      ${n} shared boxes: ${total} bytes (template ${template}, their changes ${own}); a copied box alone ${copied}; create median ${median.toFixed(1)} ms`,
    );
    assert.ok(
      changes.every((bytes) => bytes >= 64 * 1024),
      'each upper holds the box’s own writes',
    );
    assert.ok(total <= 1.1 * template + own, `${n} boxes: ${total} bytes ≤ 1.1 × ${template} + ${own}`);
    assert.ok(copied >= 0.9 * template, 'a copied box costs a whole template (the control)');
    assert.ok(median <= 50, `a shared create from a cached template takes ${median.toFixed(1)} ms (≤ 50 ms)`);
    assert.deepEqual(readdirSync(join(t.boxDir('many0'), 'rootfs')).sort(), ['.nsbox-upper', '.nsbox-work'], 'no copy in the box');
  });

  it('shares the page cache: N boxes reading one template file grow it once, N copies N times', async () => {
    const n = 4;
    const size = 8 * 2 ** 20;
    execFileSync('dd', ['if=/dev/urandom', `of=${join(t.template, 'big')}`, 'bs=1M', `count=${size / 2 ** 20}`], { stdio: 'ignore' });
    for (let i = 0; i < n; i += 1) await t.box(`pc${i}`);
    for (let i = 0; i < n; i += 1) await t.box(`copy${i}`, { sharing: { template: 'copy' } });
    const layerFile = join(t.driver.layers.versions()[0]?.dir as string, 'big');
    const copies = Array.from({ length: n }, (_, i) => join(t.boxDir(`copy${i}`), 'rootfs', 'big'));
    // Only the test's own files leave the cache (written back first: dirty pages stay).
    for (const file of [layerFile, ...copies]) {
      execFileSync('sync', [file]);
      execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    }
    const resident = (files: string[]) =>
      files.reduce((sum, file) => sum + Number(execFileSync('fincore', ['-b', '-n', '-o', 'RES', file], { encoding: 'utf8' }).trim()), 0);
    assert.equal(resident([layerFile, ...copies]), 0, 'nothing of them cached before');
    for (let i = 0; i < n; i += 1) await t.exec(`pc${i}`, 'cat /big > /dev/null');
    const shared = resident([layerFile]);
    for (let i = 0; i < n; i += 1) await t.exec(`copy${i}`, 'cat /big > /dev/null');
    const copied = resident(copies);
    console.log(`      page cache of ${n} boxes reading one ${size / 2 ** 20} MiB file: shared ${shared / 2 ** 20} MiB, copies ${copied / 2 ** 20} MiB`);
    assert.ok(shared >= 0.9 * size && shared <= 1.1 * size, `${n} shared boxes cached it once (${shared} bytes)`);
    assert.ok(copied >= 0.9 * n * size, `${n} copies cached it ${n} times (${copied} bytes): the control`);
  });

  it('refuses a shared template for a box on an admin rootfs, and a bad mode, naming the field, with nothing made', async () => {
    await assert.rejects(
      t.host.manager.create({ name: 'admin', config: { rootfs: t.template, sharing: { template: 'shared' } } }),
      (error: NsboxError) =>
        isNsboxError(error) && error.code === 'E_INVALID_CONFIG' && /sharing\.template/.test(JSON.stringify(error.details) + error.message),
    );
    await assert.rejects(
      t.create('bogus', { sharing: { template: 'hardlink' } }),
      (error: NsboxError) => isNsboxError(error) && error.code === 'E_INVALID_CONFIG' && /sharing/.test(error.message),
    );
    assert.deepEqual(t.host.manager.list(), []);
    assert.deepEqual(t.driver.layers.versions(), [], 'no layer was made');
  });
});
