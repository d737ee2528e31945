/** The N-API addon (PROTOCOL.md §4) against real processes and the host's mounts. */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, read, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, native } from '../lib/index.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A pid that is not in use right now (above every live pid, below pid_max). */
function unusedPid(): number {
  for (let pid = 4194000; pid > 1000; pid -= 997) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('no free pid found');
}

function assertSystemError(fn: () => unknown, code: string, syscall: string): void {
  assert.throws(fn, (error: NodeJS.ErrnoException) => {
    assert.ok(error instanceof Error);
    assert.equal(error.code, code);
    assert.equal(error.syscall, syscall);
    assert.equal(typeof error.errno, 'number');
    assert.ok((error.errno ?? 0) < 0, 'errno is negative, as in Node system errors');
    assert.match(error.message, new RegExp(syscall));
    return true;
  });
}

describe('nsbox native addon', () => {
  let children: ChildProcess[];
  let fds: number[];
  let mountDirs: string[];

  beforeEach(() => {
    children = [];
    fds = [];
    mountDirs = [];
  });

  afterEach(async () => {
    for (const fd of fds) {
      try {
        native().close(fd);
      } catch {
        // closed by the test
      }
    }
    for (const dir of mountDirs) {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      } catch {
        // not mounted (any more)
      }
      rmSync(dir, { recursive: true, force: true });
    }
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      }
    }
  });

  function spawnSleep(): ChildProcess & { pid: number } {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    children.push(child);
    assert.ok(child.pid, 'sleep started');
    return child as ChildProcess & { pid: number };
  }

  it('exports exactly the functions of the protocol', () => {
    assert.deepEqual(Object.keys(native()).sort(), [
      'close',
      'idmapBind',
      'isMountpoint',
      'listXattrs',
      'netlink',
      'netlinkSysctl',
      'nft',
      'nsInode',
      'pidfdOpen',
      'pidfdSendSignal',
      'pipe',
      'processAlive',
      'readFileInRoot',
      'reap',
      'removeTree',
      'removeTreeSync',
      'setUtsNames',
      'spawnDetached',
      'statfs',
      'syscallName',
      'umount',
      'writeFileInRoot',
    ]);
  });

  it('names a syscall from its audit architecture and number, and nothing it does not know', () => {
    const X86_64 = 0xc000003e;
    const I386 = 0x40000003;
    assert.equal(native().syscallName(X86_64, 165), 'mount');
    assert.equal(native().syscallName(I386, 21), 'mount');
    assert.equal(native().syscallName(X86_64, 250), 'keyctl');
    assert.equal(native().syscallName(X86_64, 99_999), undefined);
    assert.equal(native().syscallName(0x12345678, 1), undefined, 'an architecture libseccomp does not know');
    assert.throws(() => native().syscallName(-1, 1), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('reads a regular file beneath a root and nothing a box could plant: no symlink, no FIFO, no more than asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsbox-test-readroot-'));
    try {
      const root = join(dir, 'root');
      const secret = join(dir, 'host-secret');
      writeFileSync(secret, 'host only\n');
      mkdirSync(join(root, 'etc'), { recursive: true });
      writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
      assert.equal(native().readFileInRoot(root, 'etc/hosts', 4096)?.toString(), '127.0.0.1 localhost\n');
      assert.equal(native().readFileInRoot(root, 'etc/missing', 4096), null, 'a missing file is null');
      assert.throws(() => native().readFileInRoot(root, 'etc/hosts', 8), /larger than 8 bytes/);
      symlinkSync(secret, join(root, 'etc/hostname'));
      assert.throws(() => native().readFileInRoot(root, 'etc/hostname', 4096), /not a regular file/, 'a symlink at the name is not followed');
      symlinkSync(dir, join(root, 'up'));
      assert.throws(() => native().readFileInRoot(root, 'up/host-secret', 4096), /no symlink followed/, 'nor one on the way');
      execFileSync('mkfifo', [join(root, 'etc/fifo')]);
      assert.throws(() => native().readFileInRoot(root, 'etc/fifo', 4096), /not a regular file/, 'a FIFO is never opened (it would block)');
      assert.throws(() => native().readFileInRoot(root, '../host-secret', 4096), /no symlink followed|beneath|EXDEV|cross-device/i);
      assert.throws(() => native().readFileInRoot(root, '/etc/hosts', 4096), /relative file path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sets the host and domain name in another process's UTS namespace, not in ours", async () => {
    const hostBefore = execFileSync('hostname', { encoding: 'utf8' });
    // A process in a UTS namespace of its own, waiting for a line before it says its names.
    const child = spawn('unshare', ['--uts', 'sh', '-c', 'read line; hostname; domainname'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const done = new Promise((resolve) => child.once('close', resolve));
    // unshare has execed sh once the namespace differs from ours.
    const ours = native().nsInode(process.pid, 'uts');
    for (let i = 0; i < 200 && (!child.pid || native().nsInode(child.pid, 'uts') === ours); i++) await new Promise((r) => setTimeout(r, 10));
    const pidfd = native().pidfdOpen(child.pid as number);
    try {
      native().setUtsNames(pidfd, 'nsbox-test-uts', 'nsbox-test.example');
      assert.throws(() => native().setUtsNames(pidfd, 'x'.repeat(70)), /hostname/);
    } finally {
      native().close(pidfd);
    }
    child.stdin?.end('go\n');
    await done;
    assert.equal(output, 'nsbox-test-uts\nnsbox-test.example\n', 'the names in its namespace');
    assert.equal(execFileSync('hostname', { encoding: 'utf8' }), hostBefore, 'ours unchanged');
  });

  it('attaches an idmapped clone of a directory: files owned by 0 on disk show as the mapped id; bad maps fail naming the step', function () {
    if (process.getuid?.() !== 0) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'nsbox-test-idmap-'));
    try {
      execFileSync('mkdir', [join(dir, 'source'), join(dir, 'target')]);
      execFileSync('touch', [join(dir, 'source', 'file')]);
      native().idmapBind(join(dir, 'source'), join(dir, 'target'), '0 200000 65536\n', '0 200000 65536\n');
      assert.equal(statSync(join(dir, 'target', 'file')).uid, 200000, 'seen through the idmap');
      assert.equal(statSync(join(dir, 'source', 'file')).uid, 0, 'on disk it stays 0');
      assert.throws(
        () => native().idmapBind(join(dir, 'source'), join(dir, 'target'), 'not a map', 'not a map'),
        (error: NodeJS.ErrnoException & { step?: string }) => error.code === 'EINVAL' && /uid_map or gid_map/.test(error.step ?? ''),
      );
    } finally {
      execFileSync('sh', ['-c', `umount -l ${join(dir, 'target')} 2>/dev/null; true`]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spawns a detached process in its own session with the fds it is given, and reaps it', async () => {
    const [readEnd, writeEnd] = native().pipe();
    fds.push(readEnd);
    const pid = native().spawnDetached('/bin/sh', ['sh', '-c', 'echo "fd3 $(cut -d" " -f6 /proc/$$/stat)" >&3; exec sleep 0.2'], [-1, -1, -1, writeEnd]);
    native().close(writeEnd);
    const line = await new Promise<string>((resolve, reject) =>
      read(readEnd, Buffer.alloc(64), 0, 64, null, (error, bytes, buffer) => (error ? reject(error) : resolve(buffer.subarray(0, bytes).toString()))),
    );
    assert.equal(line.trim(), `fd3 ${pid}`, 'the child leads its own session and got the pipe as fd 3');
    assert.equal(native().reap(pid), false, 'still running');
    const deadline = Date.now() + 5000;
    while (!native().reap(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(existsSync(`/proc/${pid}`), false, 'reaped: no zombie left');
    assert.throws(
      () => native().spawnDetached('/nonexistent/program', ['x'], []),
      (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
    );
  });

  it('signals a process through a pidfd', async () => {
    const child = spawnSleep();
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const fd = native().pidfdOpen(child.pid);
    fds.push(fd);
    assert.ok(Number.isInteger(fd) && fd > 2);
    assert.equal(readlinkSync(`/proc/self/fd/${fd}`), 'anon_inode:[pidfd]');
    native().pidfdSendSignal(fd, 0); // alive: signal 0 succeeds
    native().pidfdSendSignal(fd, 15);
    assert.equal(await exited, 'SIGTERM');
    // The pidfd keeps referring to that process: gone now, even if its pid is reused.
    assertSystemError(() => native().pidfdSendSignal(fd, 0), 'ESRCH', 'pidfd_send_signal');
    native().close(fd);
    fds.pop();
    assertSystemError(() => native().close(fd), 'EBADF', 'close');
  });

  it('tells whether a process is alive, a zombie counting as dead', async () => {
    const child = spawnSleep();
    assert.equal(native().processAlive(child.pid), true);
    assert.equal(native().processAlive(process.pid), true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    // Until Node reaps it, the child is a zombie: not alive.
    for (let i = 0; i < 100 && native().processAlive(child.pid); i++) await sleep(10);
    assert.equal(native().processAlive(child.pid), false);
    await exited;
    assert.equal(native().processAlive(child.pid), false);
    assert.equal(native().processAlive(unusedPid()), false);
  });

  it('fails with ESRCH to open a pidfd on a pid that does not exist', () => {
    assertSystemError(() => native().pidfdOpen(unusedPid()), 'ESRCH', 'pidfd_open');
  });

  it('reports statfs of a path', () => {
    const root = native().statfs('/');
    assert.deepEqual(Object.keys(root).sort(), ['bavail', 'bfree', 'blocks', 'bsize', 'ffree', 'files', 'type']);
    assert.ok(root.blocks > 0);
    assert.ok(root.bsize > 0);
    assert.ok(root.bfree <= root.blocks && root.bavail <= root.blocks);
    assert.ok(root.ffree <= root.files);
    assert.ok(root.type > 0);
    assert.equal(native().statfs('/proc').type, 0x9fa0); // PROC_SUPER_MAGIC
    const error = (() => {
      try {
        native().statfs('/nonexistent-nsbox-test');
      } catch (caught) {
        return caught as NodeJS.ErrnoException;
      }
      return undefined;
    })();
    assert.equal(error?.code, 'ENOENT');
    assert.equal(error?.errno, -2);
    assert.equal(error?.syscall, 'statfs');
    assert.equal(error?.path, '/nonexistent-nsbox-test');
  });

  it('gives the inode of a namespace of a process', () => {
    assert.equal(native().nsInode(process.pid, 'mnt'), String(statSync('/proc/self/ns/mnt').ino));
    assert.equal(native().nsInode(process.pid, 'pid'), String(statSync('/proc/self/ns/pid').ino));
    const child = spawnSleep();
    assert.equal(native().nsInode(child.pid, 'net'), String(statSync(`/proc/${child.pid}/ns/net`).ino));
    assertSystemError(() => native().nsInode(process.pid, 'nope'), 'ENOENT', 'stat');
    assertSystemError(() => native().nsInode(process.pid, '../../self/ns/mnt'), 'EINVAL', 'stat');
  });

  it('lists the extended attributes of a file, and of a symlink itself, never its target', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsbox-test-xattrs-'));
    try {
      const file = join(dir, 'file');
      writeFileSync(file, 'x');
      assert.deepEqual(native().listXattrs(file), []);
      execFileSync('setcap', ['cap_net_raw+ep', file]);
      assert.deepEqual(native().listXattrs(file), ['security.capability']);
      symlinkSync(file, join(dir, 'link'));
      assert.deepEqual(native().listXattrs(join(dir, 'link')), [], 'the symlink has none of its own: its target is not read');
      symlinkSync(join(dir, 'missing'), join(dir, 'dangling'));
      assert.deepEqual(native().listXattrs(join(dir, 'dangling')), []);
      assertSystemError(() => native().listXattrs(join(dir, 'missing')), 'ENOENT', 'llistxattr');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells whether a path is a mount point', () => {
    assert.equal(native().isMountpoint('/'), true);
    assert.equal(native().isMountpoint('/proc'), true);
    assert.equal(native().isMountpoint('/proc/self'), false);
    assert.equal(native().isMountpoint('/proc/self/ns'), false);
    assertSystemError(() => native().isMountpoint('/nonexistent-nsbox-test'), 'ENOENT', 'statx');
  });

  it('unmounts a mount point', function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: mounting a tmpfs needs root');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'nsbox-test-addon-'));
    mountDirs.push(dir);
    execFileSync('mount', ['-t', 'tmpfs', 'nsbox-test', dir]);
    assert.equal(native().isMountpoint(dir), true);
    assert.equal(native().statfs(dir).type, 0x01021994); // TMPFS_MAGIC
    native().umount(dir, MNT_DETACH);
    assert.equal(native().isMountpoint(dir), false);
  });

  it('fails to umount what is not a mount point with EINVAL', () => {
    assertSystemError(() => native().umount('/proc/self/ns', 0), 'EINVAL', 'umount2');
    assertSystemError(() => native().umount('/nonexistent-nsbox-test', 0), 'ENOENT', 'umount2');
  });

  it('refuses arguments of the wrong type', () => {
    const addon = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const call of [
      () => addon.pidfdOpen?.('1'),
      () => addon.pidfdOpen?.(1.5),
      () => addon.pidfdOpen?.(),
      () => addon.statfs?.(42),
      () => addon.statfs?.('a\0b'),
      () => addon.nsInode?.(1),
    ]) {
      assert.throws(call, (error: NodeJS.ErrnoException) => error instanceof TypeError && error.code === 'ERR_INVALID_ARG_TYPE');
    }
  });
});
