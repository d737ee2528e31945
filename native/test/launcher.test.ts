/**
 * nsbox-launcher against the real kernel (root needed: namespaces, mounts, cgroups).
 * Every test owns its rootfs (/tmp/nsbox-test-*), its boxes and its cgroups, and
 * afterEach removes them even when the test failed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  lchownSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { LaunchOp } from '../lib/index.js';
import {
  boxOps,
  finishes,
  HOST_ID,
  hostMountPoints,
  ID_MAP,
  killAll,
  Launch,
  type LaunchOptions,
  launcherPath,
  makeRootfs,
  processesWithMarker,
  Reaper,
  type TestRootfs,
} from './launcher-harness.js';

const NAMESPACES = ['user', 'pid', 'mnt', 'uts', 'ipc', 'net'];

function uniqueName(): string {
  return `nsbox-test-${randomBytes(4).toString('hex')}`;
}

function joinOps(pid: number, ...rest: LaunchOp[]): LaunchOp[] {
  return [['mode', 'join'], ['join.pid', String(pid)], ['namespaces', ...NAMESPACES], ['env', 'PATH=/bin'], ...rest];
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, '').trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

describe('nsbox-launcher', function () {
  this.timeout(20000);

  let reaper: Reaper | undefined;
  let root: TestRootfs;
  const launches: Launch[] = [];
  const cleanups: Array<() => void> = [];

  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('    skipped: the launcher tests need root (namespaces, mounts, cgroups)');
      this.skip();
    }
    assert.ok(existsSync(launcherPath), `${launcherPath} is not built (npm run build:native -w @nsbox/native)`);
    reaper = new Reaper();
  });

  after(() => reaper?.remove());

  beforeEach(() => {
    root = makeRootfs();
  });

  afterEach(async () => {
    // Boxes first (their init pid comes with the result), then whatever still runs.
    await finishes(Promise.all(launches.map((launch) => launch.result)), 3000);
    killAll(launches.map((launch) => launch.okPid).filter((pid): pid is number => pid !== undefined));
    for (const launch of launches.splice(0)) {
      if (!(await finishes(launch.closed, 3000))) {
        launch.proc.kill('SIGKILL');
        await finishes(launch.closed, 3000);
      }
    }
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        cleanup();
      } catch (error) {
        console.error('cleanup failed:', error);
      }
    }
    root.remove();
  });

  /** Create mode, through the reaper (the shim's role). */
  function start(ops: readonly LaunchOp[], options: LaunchOptions = {}): Launch {
    const launch = new Launch(ops, { reaper, ...options });
    launches.push(launch);
    return launch;
  }

  /** Join mode: the launcher itself stays and waits for the process. */
  function joinBox(ops: readonly LaunchOp[], options: LaunchOptions = {}): Launch {
    const launch = new Launch(ops, options);
    launches.push(launch);
    return launch;
  }

  it('runs a box in new user, pid, mnt, uts, ipc and net namespaces', async () => {
    const launch = start([...boxOps(root.rootfs, { hostname: 'nsbox-test-box' }), ['exec', 'sh', '-c', 'echo $$; hostname; id -u; cat /proc/self/uid_map']]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.equal(await launch.exitCode, 0);
    assert.deepEqual(lines(await launch.output()), ['1', 'nsbox-test-box', '0', `0 ${HOST_ID} 65536`]);
  });

  it('reports the host pid of the box init, which runs in its own namespaces', async () => {
    const launch = start([...boxOps(root.rootfs), ['exec', 'sleep', '1000']]);
    const pid = await launch.boxPid();
    const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    assert.equal(nspid?.replace(/\s+/g, ' '), `${pid} 1`);
    for (const ns of ['user', 'pid', 'mnt', 'uts', 'ipc', 'net']) {
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), ns);
    }
  });

  it('builds a minimal /dev from ops inside a user namespace', async () => {
    const devOps: LaunchOp[] = [
      ['mount', 'tmpfs', '/dev', 'tmpfs', 'nosuid,strictatime', 'mode=755,size=65536k'],
      ...['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((dev): LaunchOp => ['dev.bind', `/dev/${dev}`, `/dev/${dev}`]),
      ['mount', 'devpts', '/dev/pts', 'devpts', 'nosuid,noexec', 'newinstance,ptmxmode=0666,mode=0620'],
      ['symlink', 'pts/ptmx', '/dev/ptmx'],
      ['mount', 'shm', '/dev/shm', 'tmpfs', 'nosuid,nodev,noexec', 'mode=1777,size=65536k'],
      ['symlink', '/proc/self/fd', '/dev/fd'],
      ['symlink', '/proc/self/fd/0', '/dev/stdin'],
      ['symlink', '/proc/self/fd/1', '/dev/stdout'],
      ['symlink', '/proc/self/fd/2', '/dev/stderr'],
    ];
    const launch = start([
      ...boxOps(root.rootfs, { extraMounts: devOps }),
      [
        'exec',
        'sh',
        '-c',
        'ls /dev; echo --; echo x > /dev/null && echo null-ok; head -c 5 /dev/urandom | wc -c; readlink /dev/ptmx; test -c /dev/pts/ptmx && echo ptmx-ok',
      ],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    const [listing, checks] = (await launch.output()).split('--\n');
    assert.deepEqual(lines(listing ?? '').sort(), [
      'fd',
      'full',
      'null',
      'ptmx',
      'pts',
      'random',
      'shm',
      'stderr',
      'stdin',
      'stdout',
      'tty',
      'urandom',
      'zero',
    ]);
    assert.deepEqual(lines(checks ?? ''), ['null-ok', '5', 'pts/ptmx', 'ptmx-ok']);
    // Everything went into the box's tmpfs, nothing into the rootfs on disk.
    assert.equal(existsSync(join(root.rootfs, 'dev', 'null')), false);
  });

  it('keeps a mount whose target goes through a symlink to / inside the rootfs', async () => {
    const name = uniqueName();
    symlinkSync('/', join(root.rootfs, 'evil'));
    const launch = start([
      ...boxOps(root.rootfs, {
        extraMounts: [
          ['mount', 'tmpfs', `/evil/tmp/${name}/x`, 'tmpfs', 'nosuid', 'size=1m'],
          ['mkdir', `/../../../../tmp/${name}-dots`, '0700'],
        ],
      }),
      ['exec', 'sh', '-c', `grep ${name} /proc/mounts; ls -d /tmp/${name}-dots`],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    // A kernel built with CONFIG_TMPFS_INODE64 (Debian's) lists the default inode64 among the options.
    const [mount, dots] = lines(await launch.output());
    // Without mode=, a tmpfs takes the mode of the directory it covers (755, made here).
    assert.equal(mount?.replace(',inode64', ''), `tmpfs /tmp/${name}/x tmpfs rw,nosuid,relatime,size=1024k,mode=755,uid=${HOST_ID},gid=${HOST_ID} 0 0`);
    assert.equal(dots, `/tmp/${name}-dots`);
    // Landed in the rootfs; the host's /tmp has no new directory and no new mount.
    assert.ok(existsSync(join(root.rootfs, 'tmp', name, 'x')));
    assert.ok(existsSync(join(root.rootfs, 'tmp', `${name}-dots`)));
    assert.equal(existsSync(`/tmp/${name}`), false);
    assert.equal(existsSync(`/tmp/${name}-dots`), false);
    assert.deepEqual(
      hostMountPoints().filter((point) => point.includes(name)),
      [],
    );
  });

  it('follows a dangling symlink of a mount target inside the rootfs, never to the host', async () => {
    const name = uniqueName();
    symlinkSync(`/${name}/deeper`, join(root.rootfs, 'dangling'));
    mkdirSync(join(root.rootfs, 'etc', 'sub'), { recursive: true });
    symlinkSync(`../../${name}-rel/here`, join(root.rootfs, 'etc', 'sub', 'relative'));
    const launch = start([
      ...boxOps(root.rootfs, {
        extraMounts: [
          ['mount', 'tmpfs', '/dangling/x', 'tmpfs', '', ''],
          ['mount', 'tmpfs', '/etc/sub/relative', 'tmpfs', '', ''],
        ],
      }),
      ['exec', 'sh', '-c', `grep -c " /${name}/deeper/x \\| /${name}-rel/here " /proc/self/mountinfo`],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.equal((await launch.output()).trim(), '2', 'both mounts are where the links lead, inside the box');
    assert.ok(existsSync(join(root.rootfs, name, 'deeper', 'x')), 'the absolute target was made inside the rootfs');
    assert.ok(existsSync(join(root.rootfs, `${name}-rel`, 'here')), 'the relative target was made inside the rootfs');
    assert.equal(existsSync(`/${name}`), false, 'nothing was made on the host');
    assert.equal(existsSync(`/${name}-rel`), false, 'nothing was made on the host');
  });

  it('reports exec of a non-executable init as EACCES and leaves no process', async () => {
    const marker = uniqueName();
    writeFileSync(join(root.rootfs, 'notexec'), '#!/bin/sh\necho never\n');
    chmodSync(join(root.rootfs, 'notexec'), 0o644);
    lchownSync(join(root.rootfs, 'notexec'), HOST_ID, HOST_ID);
    const launch = start([...boxOps(root.rootfs), ['exec', '/notexec']], { marker });
    assert.match(await launch.result, /^error exec 13 exec '\/notexec': Permission denied$/);
    assert.equal(await launch.exitCode, 1);
    // The reaper exits once nothing is left to reap: no box init survived.
    assert.ok(await finishes(launch.closed, 5000), 'a process of the failed box is still alive');
    assert.deepEqual(processesWithMarker(marker), []);
  });

  it('reports a failing mount with its step and errno and kills the child', async () => {
    const marker = uniqueName();
    const launch = start([...boxOps(root.rootfs, { extraMounts: [['mount', 'none', '/mnt', 'nsbox-no-such-fs', '', '']] }), ['exec', 'true']], { marker });
    assert.match(await launch.result, /^error mount 19 mount 'none' on '\/mnt' \(nsbox-no-such-fs\): No such device$/);
    assert.ok(await finishes(launch.closed, 5000), 'a process of the failed box is still alive');
    assert.deepEqual(processesWithMarker(marker), []);
  });

  it('rejects an unknown op before doing anything', async () => {
    const launch = start([
      ['mode', 'create'],
      ['bogus', 'x'],
      ['exec', 'true'],
    ]);
    assert.equal(await launch.result, "error read-program 22 unknown op 'bogus'");
    assert.equal(await launch.exitCode, 1);
  });

  it('closes every fd but 0, 1 and 2 before exec', async () => {
    const hostDir = openSync('/tmp', 'r');
    cleanups.push(() => closeSync(hostDir));
    const launch = start([...boxOps(root.rootfs), ['exec', 'ls', '/proc/self/fd']], { extraFds: [hostDir] });
    assert.match(await launch.result, /^ok \d+$/);
    // 3 is the directory ls is reading.
    assert.deepEqual(lines(await launch.output()), ['0', '1', '2', '3']);
  });

  it('refuses a working directory reached through a magic link', async () => {
    const launch = start([...boxOps(root.rootfs), ['cwd', '/proc/self/fd/1'], ['exec', 'pwd']]);
    assert.match(await launch.result, /^error cwd 40 resolve the working directory/);
  });

  it('runs from a sealed memfd that the box cannot reach or overwrite', async () => {
    const box = start([...boxOps(root.rootfs), ['exec', 'sleep', '1000']]);
    const pid = await box.boxPid();
    const joined = joinBox(joinOps(pid, ['exec', 'sh', '-c', 'echo "ppid=$PPID"; echo ready; exec sleep 1000']));
    await joined.waitForOutput(/ready/);
    const launcherPid = joined.proc.pid as number;
    assert.match(readlinkSync(`/proc/${launcherPid}/exe`), /^\/memfd:nsbox-launcher/);
    // Not even the host's root can open it for writing (it is being executed and sealed).
    assert.throws(
      () => openSync(`/proc/${launcherPid}/exe`, 'r+'),
      (error: NodeJS.ErrnoException) => ['ETXTBSY', 'EPERM', 'EACCES'].includes(error.code ?? ''),
    );
    // Inside the box the launcher has no pid: the joined process's parent is not visible.
    assert.match(joined.stdout, /^ppid=0$/m);
  });

  it('applies the capability sets of a root box', async () => {
    const launch = start([
      ...boxOps(root.rootfs),
      ['caps', 'bounding', 'CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
      ['caps', 'effective', 'CAP_CHOWN'],
      ['caps', 'permitted', 'CAP_CHOWN'],
      ['caps', 'inheritable'],
      ['caps', 'ambient'],
      ['exec', 'grep', 'Cap', '/proc/self/status'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    // uid 0 gets its bounding set on exec.
    assert.deepEqual(lines(await launch.output()), [
      'CapInh: 0000000000000000',
      'CapPrm: 0000000000000401',
      'CapEff: 0000000000000401',
      'CapBnd: 0000000000000401',
      'CapAmb: 0000000000000000',
    ]);
  });

  it('keeps ambient capabilities across the switch to a non-root user', async () => {
    const launch = start([
      ...boxOps(root.rootfs),
      ...['bounding', 'effective', 'permitted', 'inheritable', 'ambient'].map((set): LaunchOp => ['caps', set, 'CAP_NET_BIND_SERVICE']),
      ['user', '1000', '1000'],
      ['exec', 'sh', '-c', 'id -u; grep Cap /proc/self/status'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), [
      '1000',
      'CapInh: 0000000000000400',
      'CapPrm: 0000000000000400',
      'CapEff: 0000000000000400',
      'CapBnd: 0000000000000400',
      'CapAmb: 0000000000000400',
    ]);
  });

  it('skips ambient capabilities that are not also inheritable, as crun does', async () => {
    const launch = start([
      ...boxOps(root.rootfs),
      ...['bounding', 'effective', 'permitted'].map((set): LaunchOp => ['caps', set, 'CAP_NET_BIND_SERVICE', 'CAP_KILL']),
      ['caps', 'inheritable', 'CAP_KILL'],
      ['caps', 'ambient', 'CAP_NET_BIND_SERVICE', 'CAP_KILL'],
      ['user', '1000', '1000'],
      ['exec', 'sh', '-c', 'grep CapAmb /proc/self/status'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['CapAmb: 0000000000000020'], 'CAP_KILL (bit 5) raised, CAP_NET_BIND_SERVICE skipped');
  });

  it('loads a seccomp filter last', async () => {
    const launch = start([
      ...boxOps(root.rootfs),
      ['no_new_privs'],
      ['seccomp.default', 'allow'],
      ['seccomp.arch', 'x86_64'],
      ['seccomp.rule', 'errno:1', 'mkdir'],
      ['seccomp.rule', 'errno:1', 'mkdirat'],
      ['seccomp.rule', 'errno:1', 'nsbox_no_such_syscall'],
      ['seccomp.load'],
      ['exec', 'sh', '-c', 'mkdir /tmp/x; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['NoNewPrivs: 1', 'Seccomp: 2']);
    assert.match(launch.stderr, /mkdir: can't create directory '\/tmp\/x': Operation not permitted/);
    assert.equal(existsSync(join(root.rootfs, 'tmp', 'x')), false);
  });

  it('logs only the denials of a filter with NSBOX_SECCOMP_LOG_DENIALS: the errno rules of their own answer from a second, unlogged filter', async () => {
    // What busybox sh, mkdir and grep need; everything else is the default's EPERM.
    const allowed = words(`execve brk mmap munmap mprotect arch_prctl set_tid_address set_robust_list rseq
      prlimit64 getrandom read write close open openat fstat newfstatat stat lstat statx lseek ioctl fcntl
      getpid getppid getuid geteuid getgid getegid rt_sigaction rt_sigprocmask rt_sigreturn wait4 clone
      fork vfork exit exit_group dup dup2 dup3 pipe pipe2 uname getcwd chdir access faccessat faccessat2
      readlink readlinkat getdents64 poll ppoll futex sigaltstack madvise umask getpgrp setpgid getsid`);
    const cache = join(root.dir, 'seccomp-cache-logged');
    mkdirSync(cache, { mode: 0o700 });
    const run = async (flags: string[], cached = false) => {
      const launch = start([
        ...boxOps(root.rootfs),
        ...(cached ? [['seccomp.cache', cache] as LaunchOp] : []),
        ['no_new_privs'],
        ['seccomp.default', 'errno:1'],
        ...flags.map((flag): LaunchOp => ['seccomp.flag', flag]),
        ['seccomp.arch', 'x86_64'],
        ...allowed.map((name): LaunchOp => ['seccomp.rule', 'allow', name]),
        ['seccomp.rule', 'errno:38', 'mkdir'],
        ['seccomp.rule', 'errno:38', 'mkdirat'],
        ['seccomp.load'],
        ['exec', 'sh', '-c', 'mkdir /tmp/q 2>&1; touch /tmp/t 2>&1; grep -E "^Seccomp_filters:" /proc/self/status'],
      ]);
      assert.match(await launch.result, /^ok \d+$/, launch.stderr);
      return lines(await launch.output());
    };
    const answers = ["mkdir: can't create directory '/tmp/q': Function not implemented", 'touch: /tmp/t: Operation not permitted'];
    assert.deepEqual(await run(['NSBOX_SECCOMP_LOG_DENIALS']), [...answers, 'Seccomp_filters: 2']);
    assert.deepEqual(await run(['SECCOMP_FILTER_FLAG_LOG']), [...answers, 'Seccomp_filters: 1'], 'the kernel flag alone: one filter, every errno logged');
    // Through the seccomp cache, compiled (a miss) then read back (a hit): both filters each
    // time — the logged one alone allows mkdir, which only the unlogged one answers.
    assert.deepEqual(await run(['NSBOX_SECCOMP_LOG_DENIALS'], true), [...answers, 'Seccomp_filters: 2'], 'compiled into the cache');
    assert.equal(readdirSync(cache).length, 1, 'kept in the cache');
    assert.deepEqual(await run(['NSBOX_SECCOMP_LOG_DENIALS'], true), [...answers, 'Seccomp_filters: 2'], 'read back from the cache');
  });

  it('keeps a compiled filter in the seccomp cache and loads it from there — only an entry of root, not writable by others', async () => {
    const cache = join(root.dir, 'seccomp-cache');
    mkdirSync(cache, { mode: 0o700 });
    const run = async () => {
      const launch = start([
        ...boxOps(root.rootfs),
        ['seccomp.cache', cache],
        ['no_new_privs'],
        ['seccomp.default', 'allow'],
        ['seccomp.arch', 'x86_64'],
        ['seccomp.rule', 'errno:1', 'mkdir'],
        ['seccomp.rule', 'errno:1', 'mkdirat'],
        ['seccomp.load'],
        ['exec', 'sh', '-c', 'mkdir /tmp/x && echo made; rmdir /tmp/x 2>/dev/null; grep -E "^Seccomp:" /proc/self/status'],
      ]);
      assert.match(await launch.result, /^ok \d+$/);
      return lines(await launch.output());
    };
    assert.deepEqual(await run(), ['Seccomp: 2'], 'compiled: mkdir refused');
    const [entry, ...others] = readdirSync(cache);
    assert.ok(entry && others.length === 0, `one entry in the cache, got ${[entry, ...others]}`);
    const path = join(cache, entry);
    assert.deepEqual(await run(), ['Seccomp: 2'], 'read back: mkdir refused');

    // The entry's BPF replaced by one instruction, RET ALLOW: the launcher loads what the entry holds.
    const data = readFileSync(path);
    // Its header: flags, key length, instructions, the unlogged filter's flags and instructions (none here).
    const head = 'nsbox-seccomp-bpf 2\n'.length;
    const keyLength = data.readUInt32LE(head + 4);
    assert.equal(data.readUInt32LE(head + 16), 0, 'no unlogged filter');
    const allowAll = Buffer.alloc(8);
    allowAll.writeUInt16LE(0x06, 0);
    allowAll.writeUInt32LE(0x7fff0000, 4);
    const forged = Buffer.concat([data.subarray(0, head + 20 + keyLength), allowAll]);
    forged.writeUInt32LE(1, head + 8);
    writeFileSync(path, forged, { mode: 0o600 });
    assert.deepEqual(await run(), ['made', 'Seccomp: 2'], 'the entry is what gets loaded');

    // Writable by others: ignored, the filter compiled again (and kept anew).
    writeFileSync(path, forged);
    chmodSync(path, 0o666);
    assert.deepEqual(await run(), ['Seccomp: 2'], 'an entry others could write is not used');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(await run(), ['Seccomp: 2']);

    // A full cache (256 entries: a box's config can vary its profile) keeps no more; the
    // filter is compiled and works as without a cache.
    rmSync(path);
    for (let i = 0; i < 256; i++) writeFileSync(join(cache, `full-${i}`), '', { mode: 0o600 });
    assert.deepEqual(await run(), ['Seccomp: 2'], 'compiled: mkdir refused');
    assert.equal(readdirSync(cache).length, 256, 'no entry added to a full cache');
  });

  it('applies rlimit, env, cwd, groups and user', async () => {
    const ops = boxOps(root.rootfs).map((op): LaunchOp => (op[0] === 'setgroups' ? ['setgroups', 'allow'] : op));
    const launch = start([
      ...ops,
      ['rlimit', 'RLIMIT_NOFILE', '512', '1024'],
      ['oom_score_adj', '500'],
      ['env', 'FOO=bar baz'],
      ['env', 'FOO=replaced'],
      ['cwd', '/tmp'],
      ['groups', '1000', '2000'],
      ['user', '1000', '1001'],
      [
        'exec',
        'sh',
        '-c',
        'ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj; echo "$FOO"; pwd; id -u; id -g; grep Groups /proc/self/status; env | grep -c FOO',
      ],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['512', '1024', '500', 'replaced', '/tmp', '1000', '1001', 'Groups: 1000 2000', '1']);
  });

  it('bind mounts host paths with flags set before they are attached', async () => {
    const volume = join(root.dir, 'volume');
    mkdirSync(join(volume, 'sub'), { recursive: true });
    writeFileSync(join(volume, 'data'), 'volume-data\n');
    writeFileSync(join(root.dir, 'single-file'), 'file-data\n');
    lchownSync(volume, HOST_ID, HOST_ID);
    const launch = start([
      ...boxOps(root.rootfs, {
        extraMounts: [
          ['mount', volume, '/mnt/volume', '', 'rbind,ro,nosuid,nodev', ''],
          ['mount', 'tmpfs', '/mnt/volume/sub', 'tmpfs', 'shared', 'size=1m'],
          ['mount', join(root.dir, 'single-file'), '/etc/single-file', '', 'bind,ro', ''],
        ],
      }),
      ['domainname', 'nsbox-test-domain'],
      [
        'exec',
        'sh',
        '-c',
        [
          'cat /mnt/volume/data /etc/single-file',
          'touch /mnt/volume/new 2>/dev/null || echo volume-ro',
          'echo x > /etc/single-file 2>/dev/null || echo file-ro',
          'grep -E " /mnt/volume (ro|rw),nosuid,nodev" /proc/self/mountinfo | wc -l',
          'grep -E " /mnt/volume/sub rw.* shared:" /proc/self/mountinfo | wc -l',
          'cat /proc/sys/kernel/domainname',
        ].join('; '),
      ],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['volume-data', 'file-data', 'volume-ro', 'file-ro', '1', '1', 'nsbox-test-domain']);
    assert.equal(existsSync(join(volume, 'new')), false);
  });

  it('loads seccomp as the very last step without no_new_privs too, and CAP_SYS_ADMIN kept for it is gone after exec', async () => {
    // Every syscall the launcher itself makes after building the box is denied: the box
    // still starts, because the filter comes after all of them.
    const launcherOnly = ['capset', 'capget', 'setresuid', 'setresgid', 'setgroups', 'openat2', 'close_range', 'fchdir', 'umask', 'dup3'];
    const filter = (action: string): LaunchOp[] => [
      ['seccomp.default', 'allow'],
      ...[...launcherOnly, 'mkdir', 'mkdirat'].map((name): LaunchOp => ['seccomp.rule', action, name]),
      ['seccomp.load'],
    ];
    const asUser = start([
      ...boxOps(root.rootfs),
      ...filter('errno:38'),
      ['caps', 'bounding'],
      ['user', '1000', '1000'],
      ['exec', 'sh', '-c', 'id -u; mkdir /tmp/y 2>&1; grep -E "^(NoNewPrivs|Seccomp|CapEff):" /proc/self/status'],
    ]);
    assert.match(await asUser.result, /^ok \d+$/);
    assert.deepEqual(lines(await asUser.output()), [
      '1000',
      "mkdir: can't create directory '/tmp/y': Function not implemented",
      'CapEff: 0000000000000000',
      'NoNewPrivs: 0',
      'Seccomp: 2',
    ]);
    const asRoot = start([
      ...boxOps(root.rootfs),
      ...filter('errno:1'),
      ...['bounding', 'effective', 'permitted'].map((set): LaunchOp => ['caps', set, 'CAP_KILL']),
      ['exec', 'sh', '-c', 'grep -E "^(CapEff|CapPrm|NoNewPrivs):" /proc/self/status'],
    ]);
    assert.match(await asRoot.result, /^ok \d+$/);
    assert.deepEqual(
      lines(await asRoot.output()),
      ['CapPrm: 0000000000000020', 'CapEff: 0000000000000020', 'NoNewPrivs: 0'],
      'only CAP_KILL: CAP_SYS_ADMIN (bit 21) was dropped by execve',
    );
  });

  it('pivots into an idmapped rootfs cloned from a shared host mount (systemd makes / shared)', async () => {
    // Owned by host root on disk, shown as the box's root through the idmap.
    const hostOwned = makeRootfs(0);
    execFileSync('mount', ['--bind', hostOwned.dir, hostOwned.dir]);
    execFileSync('mount', ['--make-shared', hostOwned.dir]);
    cleanups.push(() => {
      execFileSync('umount', ['-l', hostOwned.dir]);
      hostOwned.remove();
    });
    const launch = start([
      ['mode', 'create'],
      ['namespaces', 'user', 'pid', 'mnt'],
      ['uidmap', ID_MAP],
      ['gidmap', ID_MAP],
      ['setgroups', 'deny'],
      ['tree', hostOwned.rootfs, 'rbind,idmap'],
      ['rootfs', hostOwned.rootfs, 'idmap'],
      ['mount', 'proc', '/proc', 'proc', 'nosuid,nodev,noexec', ''],
      ['pivot_root'],
      ['env', 'PATH=/bin:/sbin'],
      ['exec', 'sh', '-c', 'stat -c %u /bin/busybox; grep -E "^([^ ]+ ){4}/ " /proc/self/mountinfo | grep -c " shared:"'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['0', '0'], "the box's root owns its files, and its root mount is no peer of the host's");
  });

  it('masks paths, makes paths read-only and writes sysctls after pivot_root', async () => {
    mkdirSync(join(root.rootfs, 'secretdir'));
    writeFileSync(join(root.rootfs, 'secretdir', 'key'), 'dir-secret\n');
    writeFileSync(join(root.rootfs, 'etc', 'secret'), 'file-secret\n');
    // Every box has a /dev/null: before Linux 6.15 (no clone of a detached mount) a masked file is bound from it.
    const devNull: LaunchOp[] = [
      ['mount', 'tmpfs', '/dev', 'tmpfs', 'nosuid', 'mode=755,size=64k'],
      ['dev.bind', '/dev/null', '/dev/null'],
    ];
    const launch = start([
      ...boxOps(root.rootfs, { extraMounts: devNull }),
      ['mask', '/etc/secret'],
      ['mask', '/secretdir'],
      ['mask', '/does/not/exist'],
      ['sysctl', 'net.ipv4.ip_forward', '1'],
      ['readonly', '/proc/sys'],
      ['readonly', '/does/not/exist'],
      [
        'exec',
        'sh',
        '-c',
        'cat /etc/secret; ls /secretdir; touch /secretdir/x 2>/dev/null || echo dir-ro; cat /proc/sys/net/ipv4/ip_forward; (echo 0 > /proc/sys/net/ipv4/ip_forward) 2>/dev/null || echo sys-ro',
      ],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['dir-ro', '1', 'sys-ro']);
  });

  it('creates device nodes in a box without a user namespace', async () => {
    const launch = start([
      ['mode', 'create'],
      ['namespaces', 'pid', 'mnt'],
      ['rootfs', root.rootfs],
      ['mount', 'tmpfs', '/dev', 'tmpfs', 'nosuid', 'mode=755'],
      ['mknod', '/dev/nsbox-null', 'c', '1', '3', '0666'],
      ['pivot_root'],
      ['exec', '/bin/sh', '-c', 'echo x > /dev/nsbox-null && stat -c "%t:%T %a" /dev/nsbox-null'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.deepEqual(lines(await launch.output()), ['1:3 666']);
  });

  it('starts the box with time namespace offsets', async () => {
    const launch = start([['timens.offset', 'boottime', '864000', '0'], ...boxOps(root.rootfs), ['exec', 'cat', '/proc/uptime']]);
    assert.match(await launch.result, /^ok \d+$/);
    const uptime = Number.parseFloat(await launch.output());
    assert.ok(uptime >= 864000, `uptime ${uptime}`);
  });

  it('starts the box in its cgroups (v1 cgroup.procs, v2 cgroup.into) and a cgroup namespace', async () => {
    const name = uniqueName();
    // A hybrid host (this machine) has v1's pids hierarchy and cgroup2 beside it; a pure
    // cgroup2 host has cgroup2 alone, where cgroup.procs and cgroup.into name the same cgroup.
    const hybrid = existsSync('/sys/fs/cgroup/pids');
    const v2 = hybrid ? `/sys/fs/cgroup/unified/${name}` : `/sys/fs/cgroup/${name}`;
    const v1 = hybrid ? `/sys/fs/cgroup/pids/${name}` : v2;
    for (const dir of new Set([v1, v2])) {
      mkdirSync(dir);
      cleanups.push(() => rmdirSync(dir));
    }
    const launch = start([
      ['cgroup.procs', `${v1}/cgroup.procs`],
      ['cgroup.into', v2],
      ...boxOps(root.rootfs).map((op): LaunchOp => (op[0] === 'namespaces' ? [...op, 'cgroup'] : op)),
      ['exec', 'sh', '-c', 'grep "^0::" /proc/self/cgroup; exec sleep 1000'],
    ]);
    const pid = await launch.boxPid();
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    if (hybrid) assert.match(cgroups, new RegExp(`^\\d+:pids:/${name}$`, 'm'));
    assert.match(cgroups, new RegExp(`^0::/${name}$`, 'm'));
    // Inside, the cgroup namespace is rooted at the box's own cgroup.
    assert.equal(lines(await launch.waitForOutput(/0::/))[0], '0::/');
  });

  it('joins the network namespace of another box', async () => {
    const first = start([...boxOps(root.rootfs), ['exec', 'sleep', '1000']]);
    const pid = await first.boxPid();
    const ops = boxOps(root.rootfs).map((op): LaunchOp => (op[0] === 'namespaces' ? ['namespaces', 'user', 'pid', 'mnt'] : op));
    const second = start([['join.ns', 'net', `/proc/${pid}/ns/net`], ...ops, ['exec', 'readlink', '/proc/self/ns/net']]);
    assert.match(await second.result, /^ok \d+$/);
    assert.equal((await second.output()).trim(), readlinkSync(`/proc/${pid}/ns/net`));
  });

  it('makes the new root shared with propagation shared', async () => {
    const launch = start([
      ['propagation', 'shared'],
      ...boxOps(root.rootfs),
      ['exec', 'grep', '-cE', '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / [^ ]+ shared:', '/proc/self/mountinfo'],
    ]);
    assert.match(await launch.result, /^ok \d+$/);
    assert.equal((await launch.output()).trim(), '1');
  });

  describe('join mode', () => {
    let boxPid: number;

    beforeEach(async () => {
      const box = start([...boxOps(root.rootfs, { hostname: 'nsbox-test-join' }), ['exec', 'sleep', '1000']]);
      boxPid = await box.boxPid();
    });

    it('runs a command in the namespaces of a running box', async () => {
      const joined = joinBox(joinOps(boxPid, ['exec', 'hostname']));
      assert.equal(await joined.exitCode, 0);
      assert.equal(await joined.result, '');
      assert.equal((await joined.output()).trim(), 'nsbox-test-join');
    });

    it('exits with the status of the joined process and applies user, cwd and env', async () => {
      const joined = joinBox(
        joinOps(
          boxPid,
          ['env', 'GREETING=hi'],
          ['cwd', '/proc'],
          ['user', '1000', '1000'],
          ['exec', 'sh', '-c', 'id -u; pwd; echo $GREETING; ps -o pid,comm | grep -c sleep; exit 7'],
        ),
      );
      assert.equal(await joined.exitCode, 7);
      assert.deepEqual(lines(await joined.output()), ['1000', '/proc', 'hi', '1']);
    });

    it('reports 128+N when the joined process is killed by a signal', async () => {
      const joined = joinBox(joinOps(boxPid, ['exec', 'sh', '-c', 'kill -TERM $$']));
      assert.equal(await joined.exitCode, 128 + 15);
    });

    it('reports a failed exec on the result fd', async () => {
      const joined = joinBox(joinOps(boxPid, ['exec', 'nsbox-no-such-command']));
      assert.match(await joined.result, /^error exec 2 exec: "nsbox-no-such-command": executable file not found in \$PATH/);
      assert.equal(await joined.exitCode, 1);
    });

    it('gives the joined process a pty as its controlling terminal', async () => {
      const joined = joinBox(joinOps(boxPid, ['tty'], ['exec', 'sh', '-c', 'test -t 0 && test -t 1 && echo tty-yes; read line; echo got-$line']), {
        stdin: 'hello\n',
      });
      assert.equal(await joined.exitCode, 0);
      const output = await joined.output();
      assert.match(output, /tty-yes\r\n/);
      assert.match(output, /got-hello\r\n/);
    });
  });
});
