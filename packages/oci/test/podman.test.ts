/**
 * The real client: Debian's podman drives nsbox-runc (--runtime) on a busybox image
 * imported offline. podman keeps its state under the test's temp dir (--root, --runroot,
 * --tmpdir, vfs storage: no mounts of its own), and every box goes under a cgroup parent of
 * the test's; all of it is removed afterwards.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCgroupDriver, detectCgroupLayout } from '@nsbox/runtime';
import { buildBusyboxRootfs, Cleanup, makeTempDir, requireRoot, slowdown } from '@nsbox/testkit';
import { podmanBoxFlags, podmanGlobalArgs, podmanRunArgs } from './podman-args.js';
import { createHarness, ensureNativeBuilt, type RuncHarness, removeCgroupParent } from './runc-harness.js';

const IMAGE = 'localhost/nsbox-test-busybox:latest';

describe('podman with nsbox-runc as its runtime', function () {
  this.timeout(180_000);
  const cleanup = new Cleanup();
  let harness: RuncHarness;
  let base: string[];
  let cgroupParent: string;

  let dir: string;
  const podman = (args: string[], options: { timeoutMs?: number; fds?: number[]; env?: NodeJS.ProcessEnv } = {}) => {
    const result = spawnSync('podman', [...base, ...args], {
      encoding: 'utf8',
      ...(options.env ? { env: options.env } : {}),
      timeout: options.timeoutMs ?? 60_000,
      stdio: ['ignore', 'pipe', 'pipe', ...(options.fds ?? [])],
    });
    return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  };
  const run = (args: string[], command: string[]) => podman(podmanRunArgs(cgroupParent, args, IMAGE, command));

  before(function () {
    requireRoot(this, 'podman runs rootful containers');
    if (spawnSync('podman', ['--version']).status !== 0) this.skip(); // the lead's setup installs it (apt-get install podman)
    ensureNativeBuilt();
    dir = makeTempDir(cleanup, 'podman');
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    harness = createHarness(cleanup, join(dir, 'work'), rootfs, `podman-${process.pid}`);
    cgroupParent = `nsbox-test-podman-parent-${process.pid}`;
    cleanup.add('remove the podman cgroup parent', () => removeCgroupParent(cgroupParent));
    base = [...podmanGlobalArgs(dir), '--runtime', harness.wrapper];
    // Start nsbox-runc's server now (from source it takes seconds), not inside the first podman call.
    const warm = spawnSync(harness.wrapper, ['list'], { encoding: 'utf8', timeout: 120_000 * slowdown() });
    assert.equal(warm.status, 0, warm.stderr);
    cleanup.add('remove the podman containers', async () => {
      podman(['rm', '--all', '--force', '--time', '0']);
      // conmon's `podman container cleanup` unmounts a container's shm after it exited, on
      // its own time: wait for it, so that no later test sees a mount of ours go.
      const ours = () =>
        readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((line) => line.includes(dir));
      for (let i = 0; i < 100 && ours().length > 0; i++) await sleep(100);
      assert.deepEqual(ours(), [], 'podman left a mount under the test directory');
    });
    execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'busybox.tar'), '.']);
    const imported = podman(['import', join(dir, 'busybox.tar'), IMAGE]);
    assert.equal(imported.code, 0, imported.stderr);
  });

  after(async () => {
    const failures = await cleanup.run();
    assert.deepEqual(failures, []);
  });

  it('passes exit codes through, 127 for a missing program', () => {
    assert.equal(run([], ['true']).code, 0);
    assert.equal(run([], ['sh', '-c', 'exit 3']).code, 3);
    const missing = run([], ['no-such-program']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /executable file not found/);
  });

  it('honours --hostname, -e, --user and --read-only', () => {
    const result = run(
      ['--hostname', 'podbox', '-e', 'GREETING=hello', '--user', '1000:1000', '--read-only'],
      ['sh', '-c', 'hostname; echo $GREETING; id -u; id -g; touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw'],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'podbox\nhello\n1000\n1000\nroot-ro\ntmp-rw\n');
  });

  it('enforces --memory and --pids-limit (the cgroup manager, owner oci)', () => {
    // The box's cgroup at /sys/fs/cgroup: v1's hierarchies, or cgroup2's files of the box itself.
    const read =
      'if [ -d /sys/fs/cgroup/memory ]; then cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; else cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; fi';
    const result = run(['--memory', '64m', '--pids-limit', '40'], ['sh', '-c', read]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${64 * 2 ** 20}\n40\n`);
  });

  it('runs detached: logs, exec, stop', async () => {
    const name = `nsbox-test-detached-${process.pid}`;
    const started = podman([
      'run',
      '-d',
      '--name',
      name,
      ...podmanBoxFlags(cgroupParent),
      IMAGE,
      'sh',
      '-c',
      'echo started; trap "echo stopping; exit 0" TERM; while true; do sleep 0.1; done',
    ]);
    assert.equal(started.code, 0, started.stderr);
    for (let i = 0; i < 50 && !podman(['logs', name]).stdout.includes('started'); i++) await sleep(100);
    assert.equal(podman(['logs', name]).stdout, 'started\n');
    const exec = podman(['exec', name, 'sh', '-c', 'echo in-exec; exit 4']);
    assert.equal(exec.code, 4, exec.stderr);
    assert.equal(exec.stdout, 'in-exec\n');
    const stopped = podman(['stop', '--time', '5', name]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(podman(['ps', '--all', '--filter', `name=${name}`, '--format', '{{.Status}}']).stdout, /Exited \(0\)/);
    assert.equal(podman(['logs', name]).stdout, 'started\nstopping\n');
    assert.equal(podman(['rm', name]).code, 0);
    assert.equal(harness.run(['list', '--quiet']).stdout, '', 'nsbox-runc has no container left');
  });

  it('checkpoints and restores a box with podman container checkpoint/restore: its counter continues (issue 18)', async function () {
    // podman asks `criu` on its PATH for its version: nsbox's private prefix has a `bin/criu`
    // (scripts/criu.mjs); the system's (Debian 12's 3.17) fails on this kernel.
    const criuBin = join(process.env.NSBOX_CRIU_PREFIX ?? '/var/lib/nsbox/criu', 'bin');
    if (!existsSync(join(criuBin, 'criu'))) this.skip(); // node scripts/setup.mjs installs it
    const env = { ...process.env, PATH: `${criuBin}:${process.env.PATH}` };
    const name = `nsbox-test-checkpoint-${process.pid}`;
    const counts = () => podman(['logs', name]).stdout.split('\n').filter(Boolean).map(Number);
    const waitForMore = async (than: number) => {
      for (let i = 0; i < 100 && (counts().at(-1) ?? 0) <= than; i++) await sleep(100);
      return counts().at(-1) ?? 0;
    };
    const started = podman([
      'run',
      '-d',
      '--name',
      name,
      '--log-driver',
      'k8s-file',
      ...podmanBoxFlags(cgroupParent),
      IMAGE,
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done',
    ]);
    assert.equal(started.code, 0, started.stderr);
    const before = await waitForMore(3);
    assert.ok(before > 3, `the counter runs (${before})`);
    const cgroups = () => readFileSync(`/proc/${podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim()}/cgroup`, 'utf8');
    const cgroupsBefore = cgroups();

    const checkpointed = podman(['container', 'checkpoint', name], { env, timeoutMs: 120_000 });
    assert.equal(checkpointed.code, 0, checkpointed.stderr);
    assert.equal(podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim(), 'exited');
    assert.equal(harness.run(['list', '--quiet']).stdout, '', 'the checkpointed box is gone from nsbox-runc');
    const saved = counts().at(-1) ?? 0;
    await sleep(500);
    assert.equal(counts().at(-1), saved, 'nothing counts while the box is saved');

    const restored = podman(['container', 'restore', name], { env, timeoutMs: 120_000 });
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim(), 'running');
    assert.equal(cgroups(), cgroupsBefore, 'the restored box is in the cgroups it had');
    const after = await waitForMore(saved + 3);
    assert.ok(after > saved + 3, `the counter counts again after the restore (${saved} → ${after})`);
    // Its memory came back: one run of 1, 2, 3 … with no second 1 (a restart would print one).
    const all = counts();
    assert.deepEqual(
      all,
      all.map((_, index) => index + 1),
      'the counter continued where it was saved',
    );
    const exec = podman(['exec', name, 'sh', '-c', 'echo in-restored']);
    assert.equal(exec.stdout, 'in-restored\n', exec.stderr);
    const stopped = podman(['stop', '--time', '2', name]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(podman(['rm', name]).code, 0);
    assert.equal(harness.run(['list', '--quiet']).stdout, '', 'nsbox-runc has no container left');
  });

  it('gives -t a terminal through the console socket', () => {
    // `script` gives podman a terminal of its own, as a person's would be.
    const command = [
      'podman',
      ...base,
      'run',
      '--rm',
      '-t',
      '--cgroup-parent',
      `/${cgroupParent}`,
      '--network',
      'none',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      IMAGE,
      'sh',
      '-c',
      'test -t 0 && test -t 1 && echo on-a-tty; exit 5',
    ];
    const result = spawnSync('script', ['-qec', command.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' '), '/dev/null'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 5, result.stderr);
    assert.match(result.stdout, /on-a-tty/);
  });

  it('runs under systemd as podman does by default there: --systemd-cgroup, each container a delegated scope', function () {
    if (!existsSync('/run/systemd/system') || detectCgroupLayout().kind !== 'v2') {
      console.log('      skipped: PID 1 is not systemd on a pure cgroup2 host (the VM lane runs this test)');
      this.skip();
    }
    // podman's own default on such a host: the systemd cgroup manager, which passes --systemd-cgroup.
    const systemdBase = base.map((arg) => (arg === 'cgroupfs' ? 'systemd' : arg));
    const podmanSystemd = (args: string[]) => {
      const result = spawnSync('podman', [...systemdBase, ...args], { encoding: 'utf8', timeout: 120_000 });
      return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
    };
    const name = `nsbox-test-systemd-${process.pid}`;
    const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
    const started = podmanSystemd(['run', '-d', '--name', name, '--network', 'none', '--memory', '64m', ...ulimits, IMAGE, 'sleep', '1000']);
    assert.equal(started.code, 0, started.stderr);
    try {
      const [id, pid] = podmanSystemd(['inspect', '--format', '{{.Id}} {{.State.Pid}}', name]).stdout.trim().split(' ');
      const scope = `libpod-${id}.scope`;
      const cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
      assert.equal(cgroup, `/machine.slice/${scope}/box`, 'the box in the scope podman named (machine.slice:libpod:<id>)');
      const show = (property: string) => execFileSync('systemctl', ['show', '--property', property, '--value', scope], { encoding: 'utf8' }).trim();
      assert.equal(show('Delegate'), 'yes');
      assert.equal(show('ActiveState'), 'active');
      const limit = podmanSystemd(['exec', name, 'cat', '/sys/fs/cgroup/memory.max']);
      assert.equal(limit.stdout, `${64 * 2 ** 20}\n`, limit.stderr);
      const removed = podmanSystemd(['rm', '--force', '--time', '0', name]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(show('LoadState'), 'not-found', 'the scope went with the container');
      assert.equal(harness.run(['list', '--quiet']).stdout, '', 'nsbox-runc has no container left');
    } finally {
      podmanSystemd(['rm', '--force', '--time', '0', name]);
    }
  });

  it("runs a seccomp profile that denies the launcher's own syscalls, without no-new-privileges (issue 20 item 1)", () => {
    const profile = join(dir, 'seccomp.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['openat2', 'close_range', 'capset', 'capget', 'setresuid', 'setresgid', 'setgroups', 'fchdir', 'umask', 'dup3', 'mkdir', 'mkdirat'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 38,
          },
        ],
      }),
    );
    const result = run(['--security-opt', `seccomp=${profile}`], ['sh', '-c', 'mkdir /tmp/x 2>&1; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "mkdir: can't create directory '/tmp/x': Function not implemented\nNoNewPrivs:\t0\nSeccomp:\t2\n");
  });

  it('honours --umask, --personality and --preserve-fds (issue 20 item 2)', () => {
    const file = join(dir, 'preserved.txt');
    writeFileSync(file, 'from the caller\n');
    const fd = openSync(file, 'r');
    try {
      const result = podman(
        podmanRunArgs(cgroupParent, ['--umask', '0077', '--personality', 'LINUX32', '--preserve-fds', '1'], IMAGE, ['sh', '-c', 'umask; uname -m; cat <&3']),
        { fds: [fd] },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '0077\ni686\nfrom the caller\n');
    } finally {
      closeSync(fd);
    }
  });

  it('applies --oom-kill-disable, --cpu-rt-runtime where the kernel has it, a runbindable bind and a device node (issue 20 item 2)', () => {
    const source = join(dir, 'unbindable-src');
    mkdirSync(source, { recursive: true });
    const rt = existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
    // memory.oom_control is cgroup v1's: where memory is on cgroup2 there is no switch, and
    // nsbox-runc refuses the field naming it, as crun does ("cannot disable OOM killer with cgroupv2").
    const oomSwitch = detectCgroupLayout().v1.memory !== undefined;
    const otherFlags = [
      ...(rt ? ['--cpu-rt-runtime', '10000'] : []),
      '--mount',
      `type=bind,source=${source},destination=/mnt/u,bind-propagation=runbindable`,
      '--device',
      '/dev/null:/dev/mynull',
    ];
    const probe =
      'grep -c " /mnt/u .* unbindable " /proc/self/mountinfo; stat -c "%F %t:%T" /dev/mynull; cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us 2>/dev/null || echo no-rt';
    const rest = `1\ncharacter special file 1:3\n${rt ? '10000' : 'no-rt'}\n`;
    if (oomSwitch) {
      const result = run(
        ['--memory', '64m', '--oom-kill-disable', ...otherFlags],
        ['sh', '-c', `grep ^oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control; ${probe}`],
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `oom_kill_disable 1\n${rest}`);
      return;
    }
    const refused = run(['--memory', '64m', '--oom-kill-disable'], ['true']);
    assert.notEqual(refused.code, 0, 'a box asking for no OOM killer on cgroup2 was started');
    assert.match(refused.stderr, /disableOOMKiller[\s\S]*cgroup2 has no switch to turn the OOM killer off/);
    const result = run(['--memory', '64m', ...otherFlags], ['sh', '-c', probe]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, rest);
  });

  // A missing --workdir is podman's to refuse before the runtime runs ("workdir ... does not exist").
  it('gives lo up, a tmpfs mode, rbind submounts, devices outside /dev and a bind of the host /dev (issue 20 item 3)', () => {
    const source = join(dir, 'rbind-src');
    mkdirSync(join(source, 'sub'), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'nsbox-test-podsub', join(source, 'sub')]);
    cleanup.add('unmount the podman rbind source', () => execFileSync('umount', [join(source, 'sub')]));
    writeFileSync(join(source, 'sub', 'inner'), 'from the submount\n');
    const result = run(
      ['--mount', 'type=tmpfs,destination=/tmp/moded,tmpfs-mode=1770', '-v', `${source}:/mnt/tree:ro`, '--device', '/dev/zero:/opt/devices/zero2'],
      ['sh', '-c', 'cat /sys/class/net/lo/flags; stat -c %a /tmp/moded; cat /mnt/tree/sub/inner; stat -c "%F %t:%T" /opt/devices/zero2'],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '0x9\n1770\nfrom the submount\ncharacter special file 1:5\n');
    const dev = run(['-v', '/dev:/dev'], ['sh', '-c', 'test -c /dev/ptmx && test -c /dev/null && echo dev-bound']);
    assert.equal(dev.code, 0, dev.stderr);
    assert.equal(dev.stdout, 'dev-bound\n');
  });

  it('in a user namespace: binds a source only host root can reach and sets --group-add (issue 20 item 3)', () => {
    const locked = join(dir, 'locked');
    mkdirSync(join(locked, 'inside'), { recursive: true, mode: 0o755 });
    chmodSync(locked, 0o700);
    writeFileSync(join(locked, 'inside', 'file'), 'reached\n');
    const result = run(
      ['--uidmap', '0:200000:65536', '--gidmap', '0:200000:65536', '--group-add', '10', '-v', `${join(locked, 'inside')}:/mnt/locked:ro`],
      ['sh', '-c', 'cat /mnt/locked/file; grep ^Groups: /proc/self/status'],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^reached\nGroups:\t(.* )?10( .*)?\n$/);
  });

  it("runs an exec'd process as the leader of its own process group (issue 20 item 3)", () => {
    const name = `nsbox-test-pgrp-${process.pid}`;
    const started = podman(['run', '-d', '--name', name, ...podmanBoxFlags(cgroupParent), IMAGE, 'sleep', '60']);
    assert.equal(started.code, 0, started.stderr);
    try {
      // Fields 1 and 5 of /proc/self/stat: the pid of cat itself and its process group.
      const exec = podman(['exec', name, 'cat', '/proc/self/stat']);
      assert.equal(exec.code, 0, exec.stderr);
      const fields = exec.stdout.slice(exec.stdout.lastIndexOf(')') + 2).split(' ');
      assert.equal(fields[2], exec.stdout.split(' ')[0], `pgrp of ${exec.stdout}`);
    } finally {
      podman(['rm', '--force', '--time', '0', name]);
    }
  });

  it('runs OCI hooks from --hooks-dir at their moments (issue 20 item 4)', () => {
    const hooksDir = join(dir, 'hooks.d');
    mkdirSync(hooksDir, { recursive: true });
    const log = join(dir, 'podman-hooks.log');
    const hook = (stage: string, script: string) =>
      writeFileSync(
        join(hooksDir, `${stage}.json`),
        JSON.stringify({ version: '1.0.0', hook: { path: '/bin/sh', args: ['sh', '-c', script] }, when: { always: true }, stages: [stage] }),
      );
    // Each records its stage, the status of the state on its stdin, and its mount namespace.
    const record = (stage: string) => `read -r state; echo "${stage} $(echo "$state" | grep -o '"status":"[a-z]*"') $(readlink /proc/self/ns/mnt)" >> ${log}`;
    for (const stage of ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop']) hook(stage, record(stage));
    hook('startContainer', 'echo "startContainer in the box"');
    const result = podman(['--hooks-dir', hooksDir, ...podmanRunArgs(cgroupParent, [], IMAGE, ['echo', 'user process'])]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'startContainer in the box\nuser process\n');
    const hostMnt = execFileSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }).trim();
    const entries = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    assert.deepEqual(
      entries.map(([stage, status]) => `${stage} ${status}`),
      [
        'prestart "status":"creating"',
        'createRuntime "status":"creating"',
        'createContainer "status":"created"',
        'poststart "status":"running"',
        'poststop "status":"stopped"',
      ],
    );
    const mnt = Object.fromEntries(entries.map(([stage, , ns]) => [stage, ns]));
    assert.equal(mnt['createRuntime'], hostMnt, "createRuntime runs in the runtime's namespace");
    assert.notEqual(mnt['createContainer'], hostMnt, "createContainer runs in the box's");
  });

  it('leaves no box cgroup behind', () => {
    const left = createCgroupDriver({ parent: cgroupParent, manager: 'cgroupfs' })
      .list()
      .filter((name) => name.startsWith('libpod-'));
    assert.deepEqual(left, []);
  });
});
