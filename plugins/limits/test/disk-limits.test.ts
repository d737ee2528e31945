/**
 * Disk space and inode limits on real boxes: the per-box image on a loop device (this
 * machine's backend), and project quotas where the kernel can mount a filesystem with them.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { buildBusyboxRootfs, makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { which } from '../src/disk/system.js';
import { CAP_SYS_RESOURCE, HostFacts } from '../src/host-facts.js';
import { type LimitsTestHost, loopDevices, openLimitsHost, poolImages } from './support.js';

const MiB = 2 ** 20;

describe('limits: disk limits on real boxes', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let t: LimitsTestHost;
  let loopsBefore: string[];

  before(function () {
    requireRoot(this, 'disk limits on real boxes');
  });

  beforeEach(async () => {
    t = await openLimitsHost(cleanup);
    // Only the test's own loop devices (its images live in its state dir): other tests may run meanwhile.
    loopsBefore = loops();
  });

  function loops(): string[] {
    return loopDevices(t.host.stateDir);
  }

  /** df -B1 / in the box: [size, used, available]. */
  async function df(name: string, flag = '-B1'): Promise<number[]> {
    const out = (await t.exec(name, `df ${flag} / | tail -1`)).stdout.trim().split(/\s+/);
    return out.slice(1, 4).map(Number);
  }

  it('fails writes past the limit with ENOSPC, shows the limit in df, grows live, and leaves no loop device behind', async () => {
    // Without CAP_SYS_RESOURCE only XFS grows mounted: xfsprogs must be installed (setup.mjs does).
    assert.ok(new HostFacts().hasCapability(CAP_SYS_RESOURCE) || which('mkfs.xfs'), 'mkfs.xfs (xfsprogs) is missing');
    await t.box('roomy', { disk: '320M' });
    const [size] = await df('roomy');
    assert.ok(Math.abs((size as number) - 320 * MiB) <= 320 * MiB * 0.005, `df / shows ${size}, not the 320M limit`);
    assert.equal(loops().length, loopsBefore.length + 1, 'one loop device while the box runs');

    const full = await t.exec('roomy', 'dd if=/dev/zero of=/fill bs=1M count=400 2>&1; echo status=$?');
    assert.match(full.stdout, /No space left on device/);
    assert.match(full.stdout, /status=1/);
    assert.deepEqual(t.limits.report(t.host.manager.get('roomy')).newEvents, ['disk-full']);

    const started = Date.now();
    await t.host.manager.update('roomy', { limits: { disk: '512M' } });
    console.log(`      disk 320M -> 512M grown live in ${Date.now() - started} ms (${t.limits.report(t.host.manager.get('roomy')).disk?.backend})`);
    const [grown] = await df('roomy');
    assert.ok(Math.abs((grown as number) - 512 * MiB) <= 512 * MiB * 0.005, `df / shows ${grown} after growing to 512M`);
    const more = await t.exec('roomy', 'dd if=/dev/zero of=/fill2 bs=1M count=100 conv=fsync 2>&1; echo status=$?');
    assert.match(more.stdout, /status=0/, more.stdout);

    await t.host.manager.stop('roomy', { timeoutMs: 0 });
    assert.deepEqual(loops(), loopsBefore, 'stop detaches the loop device');
    await t.host.manager.start('roomy');
    assert.equal((await t.exec('roomy', 'wc -c < /fill2')).stdout.trim(), String(100 * MiB), 'the files survive a restart');
    await t.host.manager.destroy('roomy', { force: true });
    assert.deepEqual(loops(), loopsBefore, 'destroy leaves no loop device');
    assert.deepEqual(poolImages(t.host.stateDir), [], 'destroy removes the image');
  });

  it('gives an inode limit an ext4 image, grows, shrinks or remakes it at the next start, and takes the box out of it when the limit goes', async () => {
    await t.box('tiny', { disk: '64M', inodes: 2000 });
    const [inodes] = await df('tiny', '-i');
    assert.ok((inodes as number) >= 2000 && (inodes as number) < 2100, `df -i shows ${inodes} inodes for a limit of 2000`);
    const files = await t.exec('tiny', 'i=0; while [ $i -lt 2100 ]; do touch /f$i 2>/dev/null || break; i=$((i+1)); done; echo made=$i');
    const made = Number(/made=(\d+)/.exec(files.stdout)?.[1]);
    assert.ok(made < 2000 && made > 1700, `${made} files fit under an inode limit of 2000`);
    await t.exec('tiny', 'rm -f /f*; echo kept > /kept');

    const ext4Grows = new HostFacts().hasCapability(CAP_SYS_RESOURCE);
    const grow = t.host.manager.update('tiny', { limits: { disk: '96M', inodes: 2000 } });
    if (ext4Grows) await grow;
    else await assert.rejects(grow, (error: NsboxError) => error.code === 'E_UNSUPPORTED' && /needs CAP_SYS_RESOURCE/.test(error.message));
    await assert.rejects(
      t.host.manager.update('tiny', { limits: { disk: '32M', inodes: 2000 } }),
      (error: NsboxError) =>
        isNsboxError(error) && error.code === 'E_INVALID_STATE' && /shrinking the disk of a running box .* stop box 'tiny' first/.test(error.message),
    );
    await assert.rejects(
      t.host.manager.update('tiny', { limits: { disk: '64M', inodes: 4000 } }),
      /the inode count of an ext4 image is fixed when it is made: stop box 'tiny'/,
    );

    // Stopped, the image grows and shrinks offline, and is remade for a new inode count.
    for (const [disk, inodes] of [
      [96, 2000],
      [48, 2000],
      [32, 4000],
    ] as const) {
      await t.host.manager.stop('tiny', { timeoutMs: 0 });
      await t.host.manager.update('tiny', { limits: { disk: `${disk}M`, inodes } });
      await t.host.manager.start('tiny');
      const [size] = await df('tiny');
      const [count] = await df('tiny', '-i');
      assert.ok(Math.abs((size as number) - disk * MiB) <= disk * MiB * 0.01, `df / shows ${size} after the disk went to ${disk}M`);
      assert.ok((count as number) >= inodes && (count as number) < inodes * 1.1, `df -i shows ${count} for an inode limit of ${inodes}`);
    }
    assert.equal((await t.exec('tiny', 'cat /kept')).stdout, 'kept\n', 'files survive the remade image');

    await t.host.manager.stop('tiny', { timeoutMs: 0 });
    await t.host.manager.update('tiny', { limits: null });
    await t.host.manager.start('tiny');
    assert.doesNotMatch((await t.exec('tiny', 'cat /proc/mounts')).stdout, /^\/dev\/loop\d+ \/ /m, 'the root is no longer an image');
    assert.equal((await t.exec('tiny', 'cat /kept')).stdout, 'kept\n', 'files moved back to the rootfs');
    assert.deepEqual(poolImages(t.host.stateDir), []);
    await t.host.manager.destroy('tiny', { force: true });
    assert.deepEqual(loops(), loopsBefore);
  });

  it('takes down an image whose record a killed process never wrote, when the box is destroyed', async () => {
    await t.box('orphan', { disk: '32M' });
    // As if the process that made the first image died before recording it.
    t.host.store.pluginState.delete('limits.disk', t.host.manager.get('orphan').id);
    assert.equal(loops().length, loopsBefore.length + 1);
    await t.host.manager.destroy('orphan', { force: true });
    assert.deepEqual(loops(), loopsBefore);
    assert.deepEqual(poolImages(t.host.stateDir), []);
  });

  it('refuses a disk limit below what the box uses, and one on a rootfs given by the admin, leaving everything as it was', async () => {
    await t.box('used', { disk: '64M' });
    await t.exec('used', 'dd if=/dev/zero of=/data bs=1M count=30 conv=fsync 2>/dev/null');
    const config = structuredClone(t.host.manager.get('used').config);
    await assert.rejects(t.host.manager.update('used', { limits: { disk: '20M' } }), /disk 20M is below what box 'used' already uses \(3\d(\.\d)?M\)/);
    assert.deepEqual(t.host.manager.get('used').config, config);
    await t.host.manager.stop('used', { timeoutMs: 0 });
    const box = t.host.manager.get('used');
    assert.throws(
      () => t.limits.checkChange(box, { disk: 20 * MiB }),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /below what box 'used' already uses/.test(error.message),
    );
    await t.host.manager.start('used');
    assert.equal((await t.exec('used', 'wc -c < /data')).stdout.trim(), String(30 * MiB));

    const rootfs = join(makeTempDir(cleanup, 'rootfs'), 'rootfs');
    execFileSync('cp', ['-a', join(t.host.stateDir, 'templates'), rootfs]);
    await assert.rejects(
      t.host.manager.create({ name: 'adminroot', config: { rootfs, limits: { disk: '64M' } } }),
      (error: NsboxError) => error.code === 'E_UNSUPPORTED' && /rootfs directory given by the admin/.test(error.message),
    );
    assert.equal(t.host.manager.list().length, 1);
  });
});

/**
 * Project quotas need quota support in the kernel (CONFIG_QFMT_V2 for ext4, CONFIG_XFS_QUOTA);
 * this probe makes a filesystem of the kind with project quotas on a loop image of the
 * test's and mounts it with prjquota, to find out.
 */
function projectQuotaProbe(dir: string, fsType: 'ext4' | 'xfs'): string | undefined {
  const image = join(dir, 'probe.img');
  const mount = join(dir, 'probe');
  // XFS wants 300M at least (sparse: it costs what is written).
  execFileSync('truncate', ['-s', fsType === 'xfs' ? '320M' : '32M', image]);
  execFileSync('mkdir', ['-p', mount]);
  // 256-byte inodes: ext4 keeps a file's project id in the larger inode, and mke2fs gives a
  // filesystem this small 128-byte ones, on which setting a project fails with EOPNOTSUPP.
  const mkfs =
    fsType === 'xfs'
      ? spawnSync('mkfs.xfs', ['-f', '-q', image], { encoding: 'utf8' })
      : spawnSync('mkfs.ext4', ['-F', '-q', '-I', '256', '-O', 'quota,project', image], { encoding: 'utf8' });
  if (mkfs.status !== 0) return `mkfs.${fsType} failed: ${mkfs.stderr.trim()}`;
  const mounted = spawnSync('mount', ['-o', 'loop,prjquota', image, mount], { encoding: 'utf8' });
  if (mounted.status !== 0)
    return `this kernel cannot mount ${fsType} with project quotas (${mounted.stderr.trim().split('\n')[0]}): it lacks quota support (CONFIG_QFMT_V2 / CONFIG_XFS_QUOTA)`;
  return undefined;
}

describe('limits: disk limits with project quotas', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'project quotas');
  });

  for (const fsType of ['ext4', 'xfs'] as const) {
    it(`limits a box on ${fsType} with project quotas in place, its files counted, df showing the limits`, async function () {
      const dir = makeTempDir(cleanup, 'prjquota');
      cleanup.add('unmount the probe filesystem', () => spawnSync('umount', [join(dir, 'probe')]));
      const reason = projectQuotaProbe(dir, fsType);
      if (reason) {
        console.log(`      skipped: ${reason}`);
        this.skip();
      }
      // A whole busybox root (its directories made, the static binary copied in) on the quota filesystem.
      const rootfs = join(dir, 'probe', 'rootfs');
      buildBusyboxRootfs(rootfs);
      writeFileSync(join(rootfs, 'marker'), 'x');
      const t = await openLimitsHost(cleanup);
      await t.host.manager.create({ name: 'quota', config: { rootfs, process: { args: ['sleep', '100000'] }, limits: { disk: '16M', inodes: 1000 } } });
      await t.host.manager.start('quota');
      assert.equal(t.limits.report(t.host.manager.get('quota')).disk?.backend, 'project quota');
      const [size, used] = (await t.exec('quota', 'df -B1 / | tail -1')).stdout.trim().split(/\s+/).slice(1, 3).map(Number);
      assert.ok(Math.abs((size as number) - 16 * MiB) <= 16 * MiB * 0.01, `df / shows ${size}, not the project's 16M limit`);
      // The files the box started with are the project's too, the busybox binary first.
      const busybox = statSync(join(rootfs, 'bin', 'busybox')).size;
      assert.ok((used as number) >= busybox, `df / counts ${used} bytes used: the rootfs's own files (busybox is ${busybox}) are outside the project`);
      const [inodes] = (await t.exec('quota', 'df -i / | tail -1')).stdout.trim().split(/\s+/).slice(1, 2).map(Number);
      assert.equal(inodes, 1000, 'df -i / shows the inode limit');
      const full = await t.exec('quota', 'dd if=/dev/zero of=/fill bs=1M count=32 2>&1; echo status=$?');
      assert.match(full.stdout, /(Disk quota exceeded|No space left on device)/);
      assert.ok(existsSync(join(rootfs, 'fill')), 'the files stay in the rootfs directory');
      await t.host.manager.destroy('quota', { force: true });
    });
  }
});
