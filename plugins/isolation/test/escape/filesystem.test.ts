/**
 * Escapes through the filesystem: a read-only root remounted, /proc knobs, masked files,
 * a bind mount whose target is a symlink out of the rootfs, the launcher overwritten
 * through /proc/self/exe, a leaked host fd.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launcherPath } from '@nsbox/native';
import { cliArgs, makeTempDir, requireRoot, runNsbox, useCleanup } from '@nsbox/testkit';
import { attack, compileAttack, inBox, makeRootfs, testCgroupParent } from '../box-kit.js';
import { attempt, type EscapeBoxes, escapeBoxes, removeEscapeBoxes } from './escape-kit.js';

const marker = `nsbox-escape-${randomBytes(4).toString('hex')}`;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('escape suite: filesystem', function () {
  this.timeout(120_000);
  let boxes: EscapeBoxes | undefined;
  let bindSource: string;

  before(async function () {
    requireRoot(this, 'the escape suite');
    boxes = await escapeBoxes(
      {
        target: {
          isolation: {
            readonlyRoot: true,
            mounts: [
              // Both destinations go through symlinks that point out of the rootfs.
              { source: '/usr/share/common-licenses', destination: `/mnt/abs/${marker}`, options: ['ro'] },
              { source: '/usr/share/common-licenses', destination: `/mnt/up/${marker}`, options: ['ro'] },
            ],
          },
        },
      },
      {
        prepare: (_name, rootfs) => {
          mkdirSync(join(rootfs, 'mnt'));
          symlinkSync('/etc', join(rootfs, 'mnt/abs'));
          symlinkSync('../../../../../../../../tmp', join(rootfs, 'mnt/up'));
          // A script whose interpreter is whatever runs it: the CVE-2019-5736 trick.
          writeFileSync(join(rootfs, 'evil'), '#!/proc/self/exe\n');
          chmodSync(join(rootfs, 'evil'), 0o755);
        },
      },
    );
    bindSource = '/usr/share/common-licenses';
  });

  after(() => removeEscapeBoxes(boxes));

  const kit = () => (boxes as EscapeBoxes).kit;

  attempt('remount a read-only root read-write', async () => {
    assert.equal(await attack(kit(), 'target', 'remount-rw'), 'err EPERM');
    assert.equal(await attack(kit(), 'target', 'umount', '/'), 'err EPERM');
    const busybox = await inBox(kit(), 'target', `mount -o remount,rw / ; touch /${marker}`);
    assert.match(busybox.stderr, /Read-only file system/);
    assert.equal(existsSync(join((boxes as EscapeBoxes).rootfs.target as string, marker)), false, 'nothing written to the rootfs');
  });

  attempt('write /proc/sysrq-trigger', async () => {
    // `h` only prints help to the kernel log, should the write ever get through.
    const expected = existsSync('/proc/sysrq-trigger') ? 'err EROFS' : 'err ENOENT';
    assert.equal(await attack(kit(), 'target', 'write', '/proc/sysrq-trigger', 'h'), expected);
  });

  attempt('write /proc/sys/kernel/*', async () => {
    const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    try {
      // Read-only /proc/sys (EROFS), or the file's owner check first (EACCES: host root owns it).
      assert.match(await attack(kit(), 'target', 'write', '/proc/sys/kernel/core_pattern', `|/${marker}`), /^err (EROFS|EACCES)$/);
      assert.match(await attack(kit(), 'target', 'write', '/proc/sys/kernel/panic', '1'), /^err (EROFS|EACCES)$/);
      assert.match((await inBox(kit(), 'target', 'sysctl -w kernel.core_pattern=x')).stderr, /Read-only file system/);
      assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), before, 'the host value is unchanged');
    } finally {
      if (readFileSync('/proc/sys/kernel/core_pattern', 'utf8') !== before) writeFileSync('/proc/sys/kernel/core_pattern', before);
    }
  });

  attempt('read /proc/kcore and the host keys and timers in /proc', async () => {
    // Masked by /dev/null: reads nothing (this kernel may have no kcore at all).
    assert.equal(await attack(kit(), 'target', 'read', '/proc/kcore'), existsSync('/proc/kcore') ? 'ok 0 bytes' : 'err ENOENT');
    assert.equal(await attack(kit(), 'target', 'read', '/proc/keys'), 'ok 0 bytes');
    assert.equal(await attack(kit(), 'target', 'read', '/proc/timer_list'), existsSync('/proc/timer_list') ? 'ok 0 bytes' : 'err ENOENT');
  });

  attempt('escape through a bind-mount target that is a symlink out of the rootfs', async () => {
    const rootfs = (boxes as EscapeBoxes).rootfs.target as string;
    assert.equal(existsSync(`/etc/${marker}`), false, 'nothing was mounted or created in the host /etc');
    assert.equal(existsSync(`/tmp/${marker}`), false, 'nor in the host /tmp');
    assert.ok(statSync(join(rootfs, 'etc', marker)).isDirectory(), "the target was created inside the box's /etc");
    assert.ok(statSync(join(rootfs, 'tmp', marker)).isDirectory(), "and inside the box's /tmp");
    const seen = await inBox(kit(), 'target', `ls /etc/${marker}; ls /tmp/${marker}`);
    assert.match(seen.stdout, /GPL/, 'the bind is where the box resolves the path');
    assert.ok(statSync(bindSource).isDirectory());
  });

  attempt('overwrite the launcher through /proc/self/exe (CVE-2019-5736)', async () => {
    const before = sha256(launcherPath);
    // The attacker watches the box's processes for a host binary and opens its exe for
    // writing; meanwhile the host enters the box and runs /evil, whose interpreter is
    // /proc/self/exe: the process that enters the box execs itself inside it.
    const watcher = inBox(kit(), 'target', ['/attack', 'exe-watch', '4']);
    let entered = 0;
    for (const deadline = Date.now() + 3000; Date.now() < deadline; entered++) {
      // The interpreter would be the launcher's sealed memfd copy; it is dynamically linked
      // and the box has no host libc, so the exec fails (or, with one, the copy finds no program).
      const result = await inBox(kit(), 'target', ['/evil']).catch((error: Error) => ({ exitCode: -1, stdout: '', stderr: error.message }));
      assert.notEqual(result.exitCode, 0, result.stderr);
      await inBox(kit(), 'target', ['/bin/true']);
    }
    const report = (await watcher).stdout.trim();
    console.log(`      (the watcher, while the host entered the box ${entered * 2} times: ${report})`);
    // Each process seen is one entering the box, caught before its exec: not dumpable, so
    // its exe cannot be opened (EACCES); after the exec it is a file of the box.
    assert.match(report, /^err processes=\d+ tries=\d+ opened=0 /, report);
    assert.equal(sha256(launcherPath), before, 'the launcher binary is unchanged');
    assert.ok(entered > 3);
  });

  describe('a host fd leaked to the CLI', () => {
    const cleanup = useCleanup();

    attempt('use a leaked host fd', async () => {
      const rootfs = makeRootfs(cleanup, compileAttack(makeTempDir(cleanup, 'attack')));
      const cli = { stateDir: makeTempDir(cleanup, 'state'), cgroupParent: testCgroupParent(cleanup) };
      cleanup.add('destroy the leak box', () => runNsbox(['destroy', '--force', 'leak'], cli));
      const secret = join(makeTempDir(cleanup, 'secret'), 'secret');
      writeFileSync(secret, `${marker}\n`);
      // The CLI, and so the shim and the launcher, start with fd 7 open on a host file.
      const withLeak = (args: string[]) =>
        spawnSync('sh', ['-c', 'exec 7<"$0"; exec "$@"', secret, process.execPath, ...cliArgs(args, cli)], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, NSBOX_CGROUP_PARENT: cli.cgroupParent },
        });
      assert.equal(withLeak(['create', 'leak', '--rootfs', rootfs, '--', 'sleep', '100000']).status, 0);
      const started = withLeak(['start', 'leak']);
      assert.equal(started.status, 0, started.stderr);
      assert.equal(withLeak(['exec', 'leak', '--', '/attack', 'fd', '7']).stdout.trim(), 'err EBADF', 'not in a process entered with exec');
      assert.equal(withLeak(['exec', 'leak', '--', '/attack', 'read', '/proc/1/fd/7']).stdout.trim(), 'err ENOENT', 'not in the box init');
      const fds = withLeak(['exec', 'leak', '--', 'ls', '/proc/1/fd']).stdout.trim().split(/\s+/);
      assert.deepEqual(fds, ['0', '1', '2'], 'init has its stdio and nothing else');
    });
  });
});
