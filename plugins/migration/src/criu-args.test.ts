import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type CheckpointManifest, dumpArgs, lazyPagesArgs, restoreArgs, shellQuote } from './criu-args.js';
import { boxCgroupPath, lazyPagesOf, unmanagedCgroups } from './criu-engine.js';
import { version } from './version.js';

const manifest: CheckpointManifest = {
  format: 1,
  box: { id: 'b1', name: 'web' },
  criu: '4.1.1',
  at: 0,
  leaveRunning: false,
  stdio: { stdin: 'pipe:[11]', stdout: 'pipe:[12]', stderr: 'pipe:[12]' },
  externalMounts: [{ destination: '/dev/null', source: '/dev/null' }],
  tcpEstablished: true,
};

/** restoreArgs' paths and fds as the tests give them: the new shim's stdin on 5, its output on 6. */
const restoreBase = { imageDir: '/i', workDir: '/w', logFile: '/l', pidFile: '/p', rootfs: '/r', stdinFd: 5, outputFd: 6, options: {} };

describe('migration: criu command lines', () => {
  it('dumps the tree with its host binds named by destination, cgroups left as they are', () => {
    const args = dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: true, manifest, options: { tcpEstablished: true } });
    assert.deepEqual(args, [
      'dump',
      '--tree',
      '42',
      '--images-dir',
      '/i',
      '--log-file',
      '/l',
      '-v2',
      '--external',
      'mnt[/dev/null]:/dev/null',
      '--leave-running',
      '--tcp-established',
      '--manage-cgroups=soft',
    ]);
  });

  it("restores detached under the new shim's pipes (one per pipe, stdout and stderr shared), binds back from the host path", () => {
    const args = restoreArgs({
      imageDir: '/proc/self/fd/7',
      workDir: '/w',
      logFile: '/l',
      pidFile: '/p',
      rootfs: '/r',
      manifest,
      stdinFd: 5,
      outputFd: 6,
      options: {},
    });
    assert.deepEqual(args.slice(0, 2), ['restore', '--restore-detached']);
    assert.deepEqual(
      args.filter((_, i) => args[i - 1] === '--inherit-fd'),
      ['fd[5]:pipe:[11]', 'fd[6]:pipe:[12]'],
    );
    assert.deepEqual(
      args.filter((_, i) => args[i - 1] === '--external'),
      ['mnt[/dev/null]:/dev/null'],
    );
    assert.ok(args.includes('--tcp-established'));
    assert.equal(args[args.indexOf('--root') + 1], '/r');
  });

  it("gives a runc caller's stderr pipe and its host files (conmon's /dev/null) back as the new caller's fds", () => {
    const caller: CheckpointManifest = {
      ...manifest,
      stdio: { stdin: '/dev/null', stdout: 'pipe:[21]', stderr: 'pipe:[22]' },
      externalStdio: [{ fd: 0, key: 'file[1c:5]' }],
    };
    const dump = dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: false, manifest: caller, options: {} });
    assert.deepEqual(
      dump.filter((_, i) => dump[i - 1] === '--external'),
      ['mnt[/dev/null]:/dev/null', 'file[1c:5]'],
    );
    // The restore's --inherit-fd pairs for a manifest, a caller with a stderr of its own (fd 9).
    const inherited = (saved: CheckpointManifest) => {
      const args = restoreArgs({ ...restoreBase, manifest: saved, errorFd: 9 });
      return args.filter((_, i) => args[i - 1] === '--inherit-fd');
    };
    assert.deepEqual(inherited(caller), ['fd[6]:pipe:[21]', 'fd[9]:pipe:[22]', 'fd[5]:file[1c:5]']);
    // A shim's one pipe for stdout and stderr stays one.
    assert.deepEqual(inherited(manifest), ['fd[5]:pipe:[11]', 'fd[6]:pipe:[12]']);
  });

  it("hands a terminal box's pty over: external at the dump, the new shim's pty for it and for the /dev/console bind at the restore", () => {
    const terminal: CheckpointManifest = {
      ...manifest,
      stdio: { stdin: '/dev/pts/3', stdout: '/dev/pts/3', stderr: '/dev/pts/3' },
      externalMounts: [{ destination: '/dev/console', source: '/dev/pts/3' }],
      externalTty: 'tty[8803:1a]',
    };
    const dump = dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: false, manifest: terminal, options: {} });
    assert.deepEqual(
      dump.filter((_, i) => dump[i - 1] === '--external'),
      ['mnt[/dev/console]:/dev/console', 'tty[8803:1a]'],
    );
    const restore = restoreArgs({ ...restoreBase, manifest: terminal, terminalPath: '/dev/pts/7' });
    assert.deepEqual(
      restore.filter((_, i) => restore[i - 1] === '--external'),
      ['mnt[/dev/console]:/dev/pts/7'],
    );
    assert.deepEqual(
      restore.filter((_, i) => restore[i - 1] === '--inherit-fd'),
      ['fd[5]:tty[8803:1a]'],
    );
  });

  it("roots only the runtime's controllers at the box's cgroup on this host", () => {
    const args = restoreArgs({
      ...restoreBase,
      manifest: { format: 1, box: { id: 'b', name: 'b' }, criu: '4.2', at: 0, leaveRunning: false, stdio: {}, externalMounts: [], tcpEstablished: false },
      cgroupRoots: [{ path: '/nsbox/b' }, { controller: 'name=systemd', path: '/' }],
    });
    assert.deepEqual(
      args.filter((_, i) => args[i - 1] === '--cgroup-root'),
      ['/nsbox/b', 'name=systemd:/'],
    );
  });

  it('post-copy: the dump serves the memory it leaves out on one address, the restore pulls it through the lazy-pages daemon', () => {
    const server = { address: '10.251.0.1', port: 40123 };
    const dump = dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: false, manifest, options: { lazyPages: { ...server, statusFd: 3 } } });
    assert.deepEqual(dump.slice(dump.indexOf('--lazy-pages'), dump.indexOf('--lazy-pages') + 7), [
      '--lazy-pages',
      '--address',
      '10.251.0.1',
      '--port',
      '40123',
      '--status-fd',
      '3',
    ]);
    assert.ok(!dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: false, manifest, options: {} }).includes('--lazy-pages'));
    const common = { imageDir: '/i', workDir: '/w', logFile: '/l', pidFile: '/p', rootfs: '/r', stdinFd: 5, outputFd: 6, options: {} };
    assert.ok(restoreArgs({ ...common, manifest: { ...manifest, lazyPages: true, pageServer: server } }).includes('--lazy-pages'));
    assert.ok(!restoreArgs({ ...common, manifest }).includes('--lazy-pages'));
    const daemon = lazyPagesArgs({ imageDir: '/i', workDir: '/w', logFile: '/d', server, options: {} });
    assert.deepEqual(daemon.slice(0, 6), ['lazy-pages', '--page-server', '--address', '10.251.0.1', '--port', '40123']);
    // The restore's socket to the daemon is in the work dir they share.
    assert.equal(daemon[daemon.indexOf('--work-dir') + 1], '/w');
  });

  it('refuses a page server that is not an address and a port', () => {
    assert.deepEqual(lazyPagesOf({ lazyPages: { address: '::1', port: 1 } }), { address: '::1', port: 1 });
    assert.equal(lazyPagesOf({}), undefined);
    for (const lazyPages of [
      { address: 'host; rm -rf /', port: 1 },
      { address: '10.0.0.1', port: 0 },
      { address: '10.0.0.1', port: 70000 },
      { address: '10.0.0.1' },
    ]) {
      assert.throws(() => lazyPagesOf({ lazyPages }), /lazyPages: an IP address and a port/);
    }
  });

  it('finds the cgroup hierarchies the runtime does not manage, with where this process is in them', () => {
    const procCgroup = '9:name=systemd:/user.slice\n8:pids:/\n2:cpu,cpuacct:/x\n1:net_cls,net_prio:/\n0::/nsboxd\n';
    assert.deepEqual(unmanagedCgroups(procCgroup, ['pids', 'cpu', 'cpuacct']), [
      { controller: 'name=systemd', path: '/user.slice' },
      { controller: 'net_prio', path: '/' },
    ]);
  });

  it('restores into the box’s cgroup where the driver made it: a systemd scope’s leaf on pure v2, /PARENT/ID beside v1, an OCI cgroupsPath', () => {
    const v2 = { layout: { kind: 'v2' as const, v1: {}, unified: '/sys/fs/cgroup', unifiedControllers: ['cpu'] }, parent: 'nsbox' };
    const scoped = { name: 'b', unifiedDir: '/sys/fs/cgroup/nsbox.slice/nsbox-b.scope/box', v1Dirs: {} };
    assert.equal(boxCgroupPath(v2, scoped), '/nsbox.slice/nsbox-b.scope/box');
    assert.equal(boxCgroupPath(v2, { ...scoped, unifiedDir: '/sys/fs/cgroup/nsbox/b' }), '/nsbox/b');
    const hybrid = {
      layout: { kind: 'hybrid' as const, v1: { pids: '/sys/fs/cgroup/pids' }, unified: '/sys/fs/cgroup/unified', unifiedControllers: [] },
      parent: 'nsbox',
    };
    assert.equal(
      boxCgroupPath(hybrid, { name: 'b', unifiedDir: '/sys/fs/cgroup/unified/nsbox/b', v1Dirs: { pids: '/sys/fs/cgroup/pids/nsbox/b' } }),
      '/nsbox/b',
    );
    // nsbox-runc's box, where config.json's cgroupsPath put it (podman's --cgroup-parent).
    assert.equal(
      boxCgroupPath(hybrid, { name: 'b', unifiedDir: '/sys/fs/cgroup/unified/podman/libpod-1', v1Dirs: { pids: '/sys/fs/cgroup/pids/podman/libpod-1' } }),
      '/podman/libpod-1',
    );
    assert.equal(boxCgroupPath(hybrid, { name: 'b', v1Dirs: { pids: '/sys/fs/cgroup/pids/podman/libpod-1' } }), '/podman/libpod-1');
  });

  it("quotes words for the restore script's shell", () => {
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  it("keeps version.ts equal to package.json's version", () => {
    const manifestFile = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifestFile.version);
  });
});
