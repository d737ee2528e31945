/**
 * Quotas administered inside a box (issue 15, OpenVZ's second-level quota) on real boxes:
 * a disk-limited box's root sets a user's block limit with quotactl on its own image (ext4
 * with the quota feature), the user writes until EDQUOT, Q_GETQUOTA shows the usage, and
 * nothing but the box's image can be named. On a kernel without quota support (this
 * project's build host) the image is made as before and the call is refused, naming why.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelQuotaProblem } from '@nsbox/runtime-api';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { openVirtHost, type VirtTestHost } from './support.js';

const EPERM = 1;
const ENOENT = 2;
const EINVAL = 22;
const ENOTBLK = 15;
const EOPNOTSUPP = 95;
const EDQUOT = 122;
/** QFMT_VFS_V1: the format of ext4's hidden quota inodes. */
const QFMT_VFS_V1 = 4;
const KiB = 1024;

describe('virtualisation: quotas inside a box', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;
  let probe: string;

  before(function () {
    requireRoot(this, 'quotas on real boxes');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
    probe = join(makeTempDir(cleanup, 'quota-probe'), 'quota-probe');
    execFileSync('gcc', ['-static', '-O1', '-o', probe, join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'quota-probe.c')], { stdio: 'pipe' });
  });

  /** A busybox box with a disk limit (its own ext4 image) and the probe at /quota-probe; its root may administer quotas (CAP_SYS_ADMIN, which Docker's default set leaves out). */
  async function diskBox(name: string): Promise<void> {
    await t.host.manager.create({
      name,
      config: {
        template: 'busybox',
        process: { args: ['sleep', '100000'] },
        limits: { disk: '64M' },
        isolation: { capabilities: { add: ['CAP_SYS_ADMIN'] }, mounts: [{ source: probe, destination: '/quota-probe', options: ['ro'] }] },
      },
    });
    await t.host.manager.start(name);
  }

  /** `/quota-probe ARGS` in the box: its KEY=VALUE lines. */
  async function quota(name: string, ...args: string[]): Promise<Record<string, string>> {
    const result = await t.exec(name, `/quota-probe ${args.join(' ')}`);
    assert.equal(result.exitCode, 0, `quota-probe ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    return Object.fromEntries(
      result.stdout
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
  }

  function shimLog(name: string): string {
    return readFileSync(join(t.driver.files(t.host.manager.get(name)).dir, 'shim.log'), 'utf8');
  }

  function imageFeatures(name: string): string {
    const record = JSON.parse(t.host.store.pluginState.get('limits.disk', t.host.manager.get(name).id) as string) as { image: string };
    return /^Filesystem features:\s+(.*)$/m.exec(execFileSync('dumpe2fs', ['-h', record.image], { encoding: 'utf8', stdio: 'pipe' }))?.[1] ?? '';
  }

  it('lets the box’s root limit a user on its own image until EDQUOT, and refuses every other device', async function () {
    if (kernelQuotaProblem() !== undefined) this.skip();
    await diskBox('quota');
    assert.match(imageFeatures('quota'), /\bquota\b/, 'the image has hidden quota inodes');
    await t.exec('quota', 'mkdir -p /data && chmod 1777 /data');

    // The box's image as quota tools name it (its root mount's source, absent from its /dev), and through an fd.
    const format = await quota('quota', '-', 'root', 'getfmt');
    assert.match(format.special ?? '', /^\/dev\/loop\d+$/, 'the root mount’s source names the loop device');
    assert.deepEqual([format.errno, format.format], ['0', String(QFMT_VFS_V1)], 'Q_GETFMT: the vfsv1 format of ext4’s quota inodes');
    assert.equal((await quota('quota', '1000', 'root', 'getinfo')).errno, '0', 'Q_GETINFO needs no privilege');
    assert.equal((await quota('quota', '-', 'root', 'setinfo')).errno, '0', 'Q_SETINFO by the box’s root');
    assert.equal((await quota('quota', '-', 'none', 'sync')).errno, '0', 'Q_SYNC of every filesystem: the box’s');

    // No limit until the box sets one: the user fills the disk's space it is given, then gets its limit.
    const set = await quota('quota', '-', 'root', 'set', '1000', '512', '1024');
    assert.equal(set.errno, '0', `Q_SETQUOTA by the box's root: ${JSON.stringify(set)}`);
    const limits = await quota('quota', '-', 'fd:/', 'get', '1000');
    assert.deepEqual([limits.errno, limits.bsoft, limits.bhard], ['0', '512', '1024'], 'quotactl_fd reads what quotactl set');

    const fill = await quota('quota', '1000', 'root', 'fill', '/data/fill');
    assert.equal(fill.errno, String(EDQUOT), `the user's writes end with EDQUOT: ${JSON.stringify(fill)}`);
    const written = Number(fill.written);
    assert.ok(written <= 1024 * KiB && written >= 512 * KiB, `written ${written} bytes, within the 1 MiB hard limit`);

    // The usage, as the user's own (no privilege needed) and as the box's root sees it.
    const own = await quota('quota', '1000', 'root', 'get', '1000');
    assert.equal(own.errno, '0', 'a user reads its own quota');
    assert.ok(Number(own.curspace) >= written && Number(own.curspace) <= 1024 * KiB, `curspace ${own.curspace} covers the ${written} bytes written`);
    console.log(`      uid 1000 limited to 512/1024 KiB: EDQUOT after ${written} bytes, Q_GETQUOTA usage ${own.curspace} bytes`);
    const next = await quota('quota', '-', 'root', 'next', '0');
    assert.match(next.ids ?? '', new RegExp(`(^|,)1000:${own.curspace},`), `Q_GETNEXTQUOTA lists the box's uid 1000 with its usage: ${next.ids}`);
    assert.equal((await quota('quota', '1000', 'root', 'get', '0')).errno, String(EPERM), 'another user’s quota needs the box’s root');
    assert.equal((await quota('quota', 'nocap', 'root', 'set', '1000', '0', '0')).errno, String(EPERM), 'and its root with CAP_SYS_ADMIN');
    assert.equal((await quota('quota', '1000', 'root', 'set', '1000', '0', '0')).errno, String(EPERM), 'a user cannot lift its own limit');
    assert.equal((await quota('quota', '-', 'root', 'get', '4000000000')).errno, String(EINVAL), 'an id outside the box’s map');

    // Anything but the box's own image: the kernel's errno, and quotactl never runs there.
    const hostRoot = /^\S+ \S+ \S+ \S+ \/ .* - \S+ (\S+)/m.exec(readFileSync('/proc/self/mountinfo', 'utf8'))?.[1] ?? '/dev/vda1';
    assert.equal((await quota('quota', '-', hostRoot, 'get', '0')).errno, String(ENOENT), `the host's root device (${hostRoot}) is not in the box`);
    assert.equal((await quota('quota', '-', '/dev/null', 'get', '0')).errno, String(ENOTBLK), 'a node that is no block device');
    await t.exec('quota', `ln -sf ../../../../..${hostRoot} /data/escape`);
    assert.equal((await quota('quota', '-', '/data/escape', 'get', '0')).errno, String(ENOENT), 'a symlink climbing out resolves inside the box');
    assert.equal((await quota('quota', '-', 'fd:/proc', 'get', '0')).errno, String(EPERM), 'quotactl_fd on another filesystem');
    assert.equal((await quota('quota', '-', 'root', 'quotaoff')).errno, String(EPERM), 'Q_QUOTAOFF is the host’s');
    assert.equal((await quota('quota', '-', 'root', 'xstat')).errno, String(EPERM), 'XFS commands are not served');
    assert.match(shimLog('quota'), /nsbox-notify: quotactl \(cmd 0x\w+\) of box pid \d+ refused: the box's disk image keeps the quota accounting/);
  });

  it('makes the image as before and refuses quotactl, naming why, where the kernel has no quota support', async function () {
    if (kernelQuotaProblem() === undefined) this.skip();
    await diskBox('noquota');
    assert.doesNotMatch(imageFeatures('noquota'), /\bquota\b/, 'no quota feature: such an image would not mount read-write here');
    const result = await quota('noquota', '-', 'root', 'get', '0');
    assert.equal(result.errno, String(EOPNOTSUPP), `EOPNOTSUPP, not the profile's EPERM: ${JSON.stringify(result)}`);
    assert.match(
      shimLog('noquota'),
      /refused: quotas inside a box are not served by this host: its kernel has no quota (support \(CONFIG_QUOTA|format for ext4 quota inodes \(CONFIG_QFMT_V2)/,
    );
  });
});
