import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildBusyboxRootfs } from './index.js';
import { run, useTempDirs } from './test-fixtures.js';

describe('buildBusyboxRootfs', function () {
  this.timeout(20_000);
  const tempDir = useTempDirs();

  it('lays out a rootfs whose shell and applets run in a chroot', () => {
    const rootfs = buildBusyboxRootfs(join(tempDir('busybox-rootfs'), 'rootfs'), { hostname: 'web1' });
    for (const dir of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run', 'var/log', 'home', 'usr/bin', 'usr/sbin']) {
      assert.ok(statSync(join(rootfs, dir)).isDirectory(), dir);
    }
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(readlinkSync(join(rootfs, 'sbin/init')), '../bin/busybox');
    for (const applet of ['sh', 'ls', '[', 'ps', 'ip', 'wget', 'find', 'ifconfig', 'nproc', 'poweroff']) {
      assert.equal(readlinkSync(join(rootfs, 'bin', applet)), 'busybox', applet);
    }
    assert.equal(readFileSync(join(rootfs, 'etc/hostname'), 'utf8'), 'web1\n');
    assert.equal(readFileSync(join(rootfs, 'etc/resolv.conf'), 'utf8'), '');
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    assert.match(readFileSync(join(rootfs, 'etc/inittab'), 'utf8'), /::sysinit:/);
    const out = run('chroot', [
      rootfs,
      '/bin/sh',
      '-c',
      'echo ok; id -u; hostname -F /etc/hostname 2>/dev/null; cat /etc/hostname; /usr/bin/env true && echo env',
    ]);
    assert.equal(out, 'ok\n0\nweb1\nenv\n');
  });

  it('gives every file to the owner when asked (user-namespaced boxes)', () => {
    const rootfs = buildBusyboxRootfs(join(tempDir('busybox-owner'), 'rootfs'), { owner: { uid: 100000, gid: 100000 } });
    for (const path of ['.', 'bin/busybox', 'bin/sh', 'etc/passwd', 'tmp']) {
      const stat = lstatSync(join(rootfs, path));
      assert.deepEqual([stat.uid, stat.gid], [100000, 100000], path);
    }
  });

  it('runs busybox init quietly as PID 1 without a console; SIGHUP keeps it, SIGTERM ends it', async () => {
    const rootfs = buildBusyboxRootfs(join(tempDir('busybox-init'), 'rootfs'));
    assert.equal(existsSync(join(rootfs, 'dev/console')), false);
    const init = spawn('unshare', ['--pid', '--fork', '--kill-child', `--mount-proc=${join(rootfs, 'proc')}`, 'chroot', rootfs, '/sbin/init'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    init.stdout.on('data', (chunk) => (output += chunk));
    init.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => init.once('close', (_code, signal) => resolve(signal)));
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const initPid = Number(run('pgrep', ['-P', String(init.pid), '-x', 'init']).trim());
      assert.ok(initPid > 0);
      assert.equal(output, '', 'init says nothing while it idles');
      process.kill(initPid, 'SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(spawnSync('kill', ['-0', String(initPid)]).status, 0, 'SIGHUP only re-reads inittab');
      const started = Date.now();
      process.kill(initPid, 'SIGTERM');
      // SIGTERM means reboot: shutdown actions, SIGTERM/SIGKILL to all, then reboot(2) ends
      // the PID namespace's init as if killed by SIGHUP (unshare passes that signal on).
      assert.equal(await exited, 'SIGHUP');
      assert.ok(Date.now() - started < 5000);
      assert.match(output, /Requesting system reboot/);
    } finally {
      init.kill('SIGKILL');
    }
  });
});
