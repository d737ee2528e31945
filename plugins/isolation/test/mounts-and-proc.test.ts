/**
 * Seed item 0a and 2b/2e on real boxes: bind mounts with ro, nosuid, nodev, noexec,
 * recursive read-only and propagation, idmapped binds, a read-only root with a writable
 * bind inside it, /proc with hidepid and subset=pid, read-only /sys, the device allowlist
 * written to the v1 devices controller.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execInBox } from '@nsbox/runtime';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { inBox, makeRootfs, openIsolationHost, testCgroupParent } from './box-kit.js';

function mountHostTmpfs(cleanup: ReturnType<typeof useCleanup>, target: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'nsbox-test', target]);
  cleanup.add(`unmount ${target}`, () => execFileSync('umount', ['-l', target]));
}

describe('isolation: mounts, /proc, /sys and devices', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'running boxes');
  });

  it('binds host paths ro, nosuid, nodev, noexec, recursively read-only, idmapped, with propagation', async () => {
    const rootfs = makeRootfs(cleanup);
    // Without an idmap, host permissions apply to the box's root (an unprivileged host uid).
    const data = makeTempDir(cleanup, 'data');
    chmodSync(data, 0o755);
    writeFileSync(join(data, 'hello'), 'from the host\n');
    mkdirSync(join(data, 'sub'));
    mountHostTmpfs(cleanup, join(data, 'sub')); // a submount
    writeFileSync(join(data, 'sub', 'inner'), 'in the submount\n');
    const shared = makeTempDir(cleanup, 'shared');
    chmodSync(shared, 0o755);
    // Propagation needs a shared mount on the host (this host's / is private).
    execFileSync('mount', ['--bind', shared, shared]);
    cleanup.add(`unmount ${shared}`, () => execFileSync('umount', ['-l', shared]));
    execFileSync('mount', ['--make-shared', shared]);
    // Below a 0700 directory: other host users cannot reach what the box makes there.
    const writable = join(makeTempDir(cleanup, 'writable'), 'app');
    mkdirSync(writable);
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup) });
    await kit.host.manager.create({
      name: 'binds',
      config: {
        rootfs,
        process: { args: ['/bin/sleep', '1000'] },
        isolation: {
          readonlyRoot: true,
          mounts: [
            { source: data, destination: '/data/ro', options: ['ro', 'nosuid', 'nodev', 'noexec'] },
            { source: data, destination: '/data/rro', options: ['rro'] },
            // Read-only: a writable bind must not be reachable by other host users (it is, in /tmp).
            { source: shared, destination: '/shared', options: ['ro', 'rslave'] },
            { source: writable, destination: '/var/lib/app', idmap: true },
          ],
        },
      },
    });
    await kit.host.manager.start('binds');
    const run = async (command: string) => {
      const result = await inBox(kit, 'binds', command);
      return result.stdout.trim() + result.stderr.trim();
    };
    assert.equal(await run('cat /data/ro/hello'), 'from the host');
    assert.match(await run('touch /data/ro/x'), /Read-only file system/);
    const options = await run("grep ' /data/ro ' /proc/self/mountinfo");
    for (const flag of ['ro', 'nosuid', 'nodev', 'noexec']) assert.match(options, new RegExp(`[ ,]${flag}[ ,]`), options);
    // Recursive binds (the default) are made read-only recursively: `ro` and `rro` alike.
    assert.equal(await run('cat /data/ro/sub/inner'), 'in the submount');
    assert.match(await run('touch /data/ro/sub/x'), /Read-only file system/, 'ro reaches the submount');
    assert.match(await run('touch /data/rro/sub/x'), /Read-only file system/, 'rro reaches the submount');
    // A read-only root with a writable (idmapped) bind inside it is fine.
    assert.match(await run('touch /root-file'), /Read-only file system/);
    assert.equal(await run('stat -c %u /var/lib/app; touch /var/lib/app/made && echo ok'), '0\nok');
    assert.equal(statSync(join(writable, 'made')).uid, 0, 'through the idmap, host root owns what the box root made');
    // rslave: a mount the host makes later under the source appears in the box.
    mkdirSync(join(shared, 'later'));
    mountHostTmpfs(cleanup, join(shared, 'later'));
    writeFileSync(join(shared, 'later', 'news'), 'propagated\n');
    assert.equal(await run('cat /shared/later/news'), 'propagated');
  });

  it('gives each box a private /proc, with hidepid and subset=pid when asked, and a read-only /sys', async () => {
    const [first, second] = [makeRootfs(cleanup), makeRootfs(cleanup)];
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup) });
    await kit.host.manager.create({ name: 'plainproc', config: { rootfs: first, process: { args: ['/bin/sleep', '1000'] } } });
    await kit.host.manager.create({
      name: 'hidden',
      config: { rootfs: second, process: { args: ['/bin/sleep', '1000'] }, isolation: { procfs: { hidepid: 'invisible', subsetPid: true } } },
    });
    const plain = await kit.host.manager.start('plainproc');
    const hidden = await kit.host.manager.start('hidden');
    const asUser = (box: typeof plain) =>
      execInBox(kit.driver, box, {
        args: ['sh', '-c', 'test -d /proc/1 && echo init; test -d /proc/self && echo self; test -e /proc/meminfo && echo meminfo'],
        user: { uid: 1000, gid: 1000 },
      });
    assert.deepEqual((await asUser(plain)).stdout.trim().split('\n'), ['init', 'self', 'meminfo'], "without hidepid, uid 1000 sees root's init");
    assert.deepEqual((await asUser(hidden)).stdout.trim().split('\n'), ['self'], 'hidepid=invisible hides init from uid 1000; subset=pid hides meminfo');
    const sys = await inBox(kit, 'plainproc', 'grep " /sys " /proc/self/mountinfo; echo 1 > /sys/kernel/mm/ksm/run');
    assert.match(sys.stdout, / \/sys ro,/);
    assert.match(sys.stderr, /Read-only file system|Permission denied/);
  });

  it('keeps no_new_privs on by default, and the seccomp filter also when a box turns it off', async () => {
    const [first, second] = [makeRootfs(cleanup), makeRootfs(cleanup)];
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup) });
    await kit.host.manager.create({ name: 'nnp', config: { rootfs: first, process: { args: ['/bin/sleep', '1000'] } } });
    await kit.host.manager.create({
      name: 'sudo-ok',
      config: { rootfs: second, process: { args: ['/bin/sleep', '1000'] }, isolation: { noNewPrivileges: false } },
    });
    await kit.host.manager.start('nnp');
    await kit.host.manager.start('sudo-ok');
    const status = async (name: string) => (await inBox(kit, name, 'grep -E "^(NoNewPrivs|Seccomp):" /proc/1/status')).stdout.replace(/\s+/g, ' ').trim();
    assert.equal(await status('nnp'), 'NoNewPrivs: 1 Seccomp: 2');
    assert.equal(await status('sudo-ok'), 'NoNewPrivs: 0 Seccomp: 2');
  });

  it('writes the device allowlist, with the config additions, to the v1 devices controller', async function () {
    const rootfs = makeRootfs(cleanup);
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup) });
    if (!kit.driver.cgroups.layout.v1.devices) this.skip();
    await kit.host.manager.create({
      name: 'devs',
      config: { rootfs, process: { args: ['/bin/sleep', '1000'] }, isolation: { devices: [{ type: 'c', major: 10, minor: 200, access: 'rw' }] } },
    });
    const box = await kit.host.manager.start('devs');
    const list = readFileSync(join(kit.driver.cgroups.get(box.id)?.v1Dirs.devices as string, 'devices.list'), 'utf8')
      .trim()
      .split('\n')
      .sort();
    assert.deepEqual(
      list,
      ['b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 10:200 rw', 'c 136:* rwm', 'c 5:0 rwm', 'c 5:2 rwm'].sort(),
    );
    const inside = await inBox(kit, box, 'head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok');
    assert.equal(inside.stdout, '4\nnull-ok\n', inside.stderr);
  });
});
