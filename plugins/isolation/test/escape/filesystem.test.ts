/**
 * Escapes through the filesystem: a read-only root remounted, a fresh procfs and /proc
 * remounts, /proc knobs and masked files, host filesystems mounted with CAP_SYS_ADMIN, a bind
 * mount whose target is a symlink out of the rootfs (and the CVE-2021-30465 race on it), the
 * launcher overwritten through /proc/self/exe (CVE-2019-5736), a leaked host fd or working
 * directory (CVE-2024-21626). Each attack has its control (see escape-kit.ts).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launcherPath } from '@nsbox/native';
import { execInBox } from '@nsbox/runtime';
import { cliArgs, makeTempDir, requireRoot, runNsbox, useCleanup } from '@nsbox/testkit';
import { compileAttack, makeRootfs, testCgroupParent } from '../box-kit.js';
import { type Attacker, escapeSuite } from './escape-kit.js';

const marker = `nsbox-escape-${randomBytes(4).toString('hex')}`;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const sysAdmin = { capabilities: { add: ['CAP_SYS_ADMIN'] } };
/** Host root with CAP_SYS_ADMIN: no user namespace to lock mounts, no filter on mount. */
const privilegedAdmin = { isolation: { privileged: true, ...sysAdmin } };

describe('escape suite: filesystem', () => {
  before(function () {
    requireRoot(this, 'the escape suite');
  });

  const suite = escapeSuite(
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
      // CAP_SYS_ADMIN of its user namespace: a supported config.
      sysadmin: { isolation: { readonlyRoot: true, ...sysAdmin } },
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

  // (A box given CAP_SYS_ADMIN may remount its root read-write, as under Docker: not a host escape.)
  for (const on of ['target']) {
    suite.attempt({
      class: 'mounts: read-only root',
      title: `remount a read-only root read-write (${on})`,
      on,
      attack: (attacker) => attacker.run('remount-rw'),
      control: { config: { isolation: { ...privilegedAdmin.isolation, readonlyRoot: true } } },
      blocked: async (line, attacker) => {
        assert.equal(line, 'err EPERM');
        assert.match(await attacker.run('umount', '/'), /^err (EPERM|EINVAL)$/);
        const busybox = await attacker.sh(`mount -o remount,rw / ; touch /${marker}`);
        assert.match(busybox.stderr, /Read-only file system/);
        assert.equal(existsSync(join(attacker.rootfs as string, marker)), false, 'nothing written to the rootfs');
      },
    });
  }

  // With CAP_SYS_ADMIN of its user namespace a box may mount a fresh procfs, remount
  // /proc/sys or take a mask off (nsbox makes them inside the box's user namespace: they are
  // not locked). What it reaches there is still host root's: the kernel's owner checks hold.
  const corePattern = () => readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
  suite.attempt({
    class: 'mounts: procfs',
    title: 'write a host sysctl through a fresh procfs (CAP_SYS_ADMIN)',
    on: 'sysadmin',
    attack: async (on) => {
      const mounted = await on.run('mount', 'proc', '/dev/shm/proc', 'proc', '-', '-');
      return mounted.startsWith('ok') ? on.run('write', '/dev/shm/proc/sys/kernel/core_pattern', corePattern()) : mounted;
    },
    control: { config: privilegedAdmin },
    kernelBlocks: "the host's sysctl files belong to host root, not to the root of a user namespace",
    blocked: (line) => assert.equal(line, 'err EACCES'),
  });

  suite.attempt({
    class: 'mounts: procfs',
    title: 'write a host sysctl after remounting /proc/sys read-write (CAP_SYS_ADMIN)',
    on: 'sysadmin',
    attack: async (on) => {
      const remounted = await on.run('mount', '-', '/proc/sys', '-', 'remount,bind', '-');
      return remounted.startsWith('ok') ? on.run('write', '/proc/sys/kernel/core_pattern', corePattern()) : remounted;
    },
    control: { config: privilegedAdmin },
    kernelBlocks: "the host's sysctl files belong to host root, not to the root of a user namespace",
    blocked: (line) => assert.equal(line, 'err EACCES'),
  });

  suite.attempt({
    class: 'mounts: procfs',
    title: 'read /proc/timer_list after unmounting its mask (CAP_SYS_ADMIN)',
    on: 'sysadmin',
    attack: async (on) => {
      await on.run('umount', '/proc/timer_list');
      return on.run('read', '/proc/timer_list');
    },
    escaped: (line) => line.startsWith('ok') && line !== 'ok 0 bytes',
    control: { config: privilegedAdmin },
    kernelBlocks: '/proc/timer_list is 0400 host root',
    notApplicable: () => (existsSync('/proc/timer_list') ? undefined : 'no /proc/timer_list'),
    blocked: (line) => assert.equal(line, 'err EACCES'),
  });

  suite.attempt({
    class: '/proc knobs',
    title: 'write /proc/sysrq-trigger',
    // `h` only prints help to the kernel log.
    attack: (on) => on.run('write', '/proc/sysrq-trigger', 'h'),
    control: 'host',
    notApplicable: () => (existsSync('/proc/sysrq-trigger') ? undefined : 'no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off)'),
    blocked: (line) => assert.match(line, /^err (EROFS|EACCES)$/),
  });

  for (const on of ['target', 'sysadmin']) {
    suite.attempt({
      class: '/proc knobs',
      title: `write /proc/sys/kernel/* (${on})`,
      on,
      // The host's own value: should the write get through, nothing changes.
      attack: (attacker) => attacker.run('write', '/proc/sys/kernel/core_pattern', readFileSync('/proc/sys/kernel/core_pattern', 'utf8')),
      control: 'host',
      blocked: async (line, attacker) => {
        const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
        try {
          // Read-only /proc/sys (EROFS), or the file's owner check first (EACCES: host root owns it).
          assert.match(line, /^err (EROFS|EACCES)$/);
          assert.match(await attacker.run('write', '/proc/sys/kernel/core_pattern', `|/${marker}`), /^err (EROFS|EACCES)$/);
          assert.match((await attacker.sh('sysctl -w kernel.core_pattern=x')).stderr, /Read-only file system|Permission denied/);
          assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), before, 'the host value is unchanged');
        } finally {
          if (readFileSync('/proc/sys/kernel/core_pattern', 'utf8') !== before) writeFileSync('/proc/sys/kernel/core_pattern', before);
        }
      },
    });
  }

  suite.attempt({
    class: 'masked /proc files',
    title: 'read /proc/kcore',
    attack: (on) => on.run('read', '/proc/kcore', '4096'),
    escaped: (line) => line.startsWith('ok') && line !== 'ok 0 bytes',
    control: 'host',
    notApplicable: () => (existsSync('/proc/kcore') ? undefined : 'no /proc/kcore (CONFIG_PROC_KCORE off)'),
  });

  suite.attempt({
    class: 'masked /proc files',
    title: "read the host's timers in /proc/timer_list",
    attack: (on) => on.run('read', '/proc/timer_list'),
    escaped: (line) => line.startsWith('ok') && line !== 'ok 0 bytes',
    control: 'host',
    notApplicable: () => (existsSync('/proc/timer_list') ? undefined : 'no /proc/timer_list'),
    blocked: (line) => assert.equal(line, 'ok 0 bytes', 'masked by /dev/null'),
  });

  suite.attempt({
    class: 'masked /proc files',
    title: "read the host's keys in /proc/keys",
    attack: async (on) => {
      // Host root holds a key of its own here, for the control to see.
      if (on.onHost) await on.run('add_key');
      return on.run('read', '/proc/keys');
    },
    escaped: (line) => line.startsWith('ok') && line !== 'ok 0 bytes',
    control: 'host',
    blocked: (line) => assert.equal(line, 'ok 0 bytes', 'masked by /dev/null'),
  });

  // The bind targets resolved as a careless host would (following the rootfs's symlinks):
  // out of the rootfs. nsbox resolves them inside it.
  const bindTargets = (on: Attacker) => {
    const rootfs = suite.rootfs('target');
    if (on.onHost) {
      const resolved = [realpathSync(join(rootfs, 'mnt/abs')), realpathSync(join(rootfs, 'mnt/up'))];
      return { escaped: resolved.every((path) => !path.startsWith(rootfs)), detail: `resolved to ${resolved.join(', ')}` };
    }
    const out = existsSync(`/etc/${marker}`) || existsSync(`/tmp/${marker}`);
    return { escaped: out, detail: out ? 'a bind target was made on the host' : "the bind targets were made inside the box's /etc and /tmp" };
  };
  suite.attempt({
    class: 'bind targets through symlinks',
    title: 'escape through a bind-mount target that is a symlink out of the rootfs',
    attack: async (on) => bindTargets(on),
    control: 'host',
    blocked: async (_detail, on) => {
      const rootfs = on.rootfs as string;
      assert.ok(statSync(join(rootfs, 'etc', marker)).isDirectory(), "the target was created inside the box's /etc");
      assert.ok(statSync(join(rootfs, 'tmp', marker)).isDirectory(), "and inside the box's /tmp");
      const seen = await on.sh(`ls /etc/${marker}; ls /tmp/${marker}`);
      assert.match(seen.stdout, /GPL/, 'the bind is where the box resolves the path');
    },
  });

  // The attacker watches the box's processes for a host binary and opens its exe for
  // writing; meanwhile the host enters the box and runs /evil, whose interpreter is
  // /proc/self/exe: the process that enters the box execs itself inside it.
  const overwriteLauncher = async (on: Attacker) => {
    const before = sha256(launcherPath);
    const watcher = on.run('exe-watch', '3');
    let entered = 0;
    for (const deadline = Date.now() + 2500; Date.now() < deadline; entered++) {
      // The interpreter would be the launcher's sealed memfd copy; it is dynamically linked
      // and the box has no host libc, so the exec fails.
      const kit = suite.kit();
      await execInBox(kit.driver, kit.host.manager.get(on.name), { args: ['/evil'] }).catch(() => undefined);
    }
    const report = await watcher;
    const processes = Number(/processes=(\d+)/.exec(report)?.[1] ?? 0);
    // A watcher that saw no process proves nothing.
    assert.ok(processes > 0, `the watcher saw the processes entering the box: ${report}`);
    // Even with a handle, the exe is the launcher's sealed memfd copy: not written, and the
    // host binary unchanged.
    assert.match(report, / written=0 /, report);
    assert.equal(sha256(launcherPath), before, 'the launcher binary is unchanged');
    return { escaped: /opened=[1-9]/.test(report), detail: `${report} (the host entered ${entered} times)` };
  };
  suite.attempt({
    class: 'launcher overwrite (CVE-2019-5736)',
    title: 'overwrite the launcher through /proc/PID/exe of the process entering the box',
    attack: overwriteLauncher,
    // With host root's CAP_SYS_PTRACE the entering process's exe opens: what the box lacks
    // is ptrace access to that process (not dumpable while it enters).
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_SYS_PTRACE'] } } } },
    blocked: (detail) => assert.match(detail, /^err processes=[1-9]\d* tries=\d+ opened=0 written=0 /),
  });

  describe('a host fd or directory leaked into the box (CVE-2024-21626)', () => {
    const cleanup = useCleanup();
    let cli: { stateDir: string; cgroupParent: string; secret: string } | undefined;

    before(async function () {
      this.timeout(120_000);
      const rootfs = makeRootfs(cleanup, compileAttack(makeTempDir(cleanup, 'attack')));
      cli = { stateDir: makeTempDir(cleanup, 'state'), cgroupParent: testCgroupParent(cleanup), secret: join(makeTempDir(cleanup, 'secret'), 'secret') };
      cleanup.add('destroy the leak box', () => runNsbox(['destroy', '--force', 'leak'], cli as { stateDir: string }));
      writeFileSync(cli.secret, `${marker}\n`);
      assert.equal(withLeak(['create', 'leak', '--rootfs', rootfs, '--', 'sleep', '100000']).status, 0);
      const started = withLeak(['start', 'leak']);
      assert.equal(started.status, 0, started.stderr);
    });

    // The CLI, and so the shim and the launcher, start with fd 7 open on a host file.
    const withLeak = (args: string[]) => {
      const { secret, ...options } = cli as { stateDir: string; cgroupParent: string; secret: string };
      return spawnSync('sh', ['-c', 'exec 7<"$0"; exec "$@"', secret, process.execPath, ...cliArgs(args, options)], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NSBOX_CGROUP_PARENT: options.cgroupParent },
      });
    };

    suite.attempt({
      class: 'fd and cwd leaks (CVE-2024-21626)',
      title: 'use a host fd leaked to the CLI',
      attack: async (on) => {
        if (on.onHost) {
          const host = spawnSync('sh', ['-c', 'exec 7<"$0"; exec "$1" fd 7', (cli as { secret: string }).secret, suite.attackBinary()], { encoding: 'utf8' });
          return host.stdout.trim();
        }
        return withLeak(['exec', 'leak', '--', '/attack', 'fd', '7']).stdout.trim();
      },
      control: 'host',
      blocked: (line) => {
        assert.equal(line, 'err EBADF', 'not in a process entered with exec');
        assert.equal(withLeak(['exec', 'leak', '--', '/attack', 'read', '/proc/1/fd/7']).stdout.trim(), 'err ENOENT', 'not in the box init');
        const fds = withLeak(['exec', 'leak', '--', 'ls', '/proc/1/fd']).stdout.trim().split(/\s+/);
        assert.deepEqual(fds, ['0', '1', '2'], 'init has its stdio and nothing else');
      },
    });

    suite.attempt({
      class: 'fd and cwd leaks (CVE-2024-21626)',
      title: 'start in a host directory through cwd /proc/self/fd/N',
      attack: async (on) => {
        // The control: a process moved into a root without its working directory (runc's bug).
        if (on.onHost) return on.run('cwd-escape', on.rootfs ?? suite.rootfs('target'));
        const kit = suite.kit();
        const answers: string[] = [];
        for (let fd = 3; fd < 16; fd++) {
          const result = await execInBox(kit.driver, kit.host.manager.get(on.name), { args: ['/attack', 'cwd-escape'], cwd: `/proc/self/fd/${fd}` }).catch(
            (error: Error) => ({ stdout: `refused: ${error.message.split('\n')[0]}` }),
          );
          answers.push(result.stdout.trim().split('\n')[0] || 'no output');
        }
        const escaped = answers.find((answer) => answer.startsWith('ok'));
        return { escaped: Boolean(escaped), detail: escaped ?? answers.join(' | ') };
      },
      control: 'host',
      blocked: (detail) => assert.doesNotMatch(detail, /^ok/),
    });
  });
});
