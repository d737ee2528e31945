/**
 * The OCI lifecycle through the real nsbox-runc command line (native front + server), on
 * real boxes: create → created → start → running → kill → stopped → delete; run, exec,
 * pause/resume, update, hooks, concurrency and a crash of the server mid-call.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCgroupDriver, detectCgroupLayout } from '@nsbox/runtime';
import { buildBusyboxRootfs, Cleanup, makeTempDir, requireRoot } from '@nsbox/testkit';
import { nativePaths, packageRoot } from '../src/oci-runtime.js';
import { type BundleConfig, cleanupBundle, createHarness, ensureNativeBuilt, makeBundle, type RuncHarness } from './runc-harness.js';

function state(harness: RuncHarness, id: string): Record<string, unknown> {
  const result = harness.run(['state', id]);
  assert.equal(result.code, 0, `state ${id}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The box cgroups under a parent, as nsbox-runc makes them (cgroupfs paths, as runc: v1 or cgroup2 directories). */
function cgroupDirs(parent: string): string[] {
  return createCgroupDriver({ parent, manager: 'cgroupfs' }).list();
}

describe('nsbox-runc: the OCI lifecycle through the command line', function () {
  this.timeout(120_000);
  const cleanup = new Cleanup();
  let harness: RuncHarness;
  const ids: string[] = [];

  before(function () {
    requireRoot(this, 'nsbox-runc creates namespaces and cgroups');
    ensureNativeBuilt();
    const dir = makeTempDir(cleanup, 'oci');
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    harness = createHarness(cleanup, join(dir, 'work'), rootfs, `oci-${process.pid}`);
  });

  afterEach(() => {
    for (const id of ids.splice(0)) harness.run(['delete', '--force', id]);
  });

  after(async () => {
    if (harness) cleanupBundle(harness, []);
    const failures = await cleanup.run();
    assert.deepEqual(failures, []);
  });

  it('create → created → start → running → kill → stopped → delete', async () => {
    const id = 'life-1';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-life', ['sh', '-c', 'echo started > /dev/shm/x; sleep 60']);
    const pidFile = join(harness.dir, 'life.pid');
    const created = harness.run(['create', '--bundle', bundle, '--pid-file', pidFile, id]);
    assert.equal(created.code, 0, created.stderr);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let current = state(harness, id);
    assert.equal(current.status, 'created');
    assert.equal(current.pid, pid);
    assert.equal(current.bundle, bundle);
    assert.equal(current.ociVersion, '1.2.0');
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /nsbox-launcher/, 'the launcher holds the box: the user process has not run yet');

    assert.equal(harness.run(['start', id]).code, 0);
    current = state(harness, id);
    assert.equal(current.status, 'running');
    assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /nsbox-launcher/, 'start exec`d the user process in place of the held launcher');
    assert.equal(cgroupDirs(harness.cgroupParent).length, 1, 'the box has its cgroup under the parent');

    const again = harness.run(['start', id]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /cannot start an already running container/);

    assert.equal(harness.run(['kill', id, 'KILL']).code, 0);
    for (let i = 0; i < 100 && state(harness, id).status !== 'stopped'; i++) await sleep(20);
    current = state(harness, id);
    assert.equal(current.status, 'stopped');
    assert.equal(current.pid, 0);

    assert.equal(harness.run(['delete', id]).code, 0);
    const gone = harness.run(['state', id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /container life-1 does not exist/);
    assert.deepEqual(cgroupDirs(harness.cgroupParent), [], 'the cgroup went with the box');
    assert.equal(harness.run(['delete', '--force', id]).code, 0, 'delete --force of nothing succeeds, as with runc');
  });

  it('run: the output, the exit status, and the box deleted after', () => {
    const bundle = makeBundle(harness, 'b-run', ['sh', '-c', 'echo out; echo err >&2; hostname; exit 7'], (config) => {
      config.hostname = 'runbox';
    });
    const result = harness.run(['run', '--bundle', bundle, 'run-1']);
    assert.equal(result.code, 7, result.stderr);
    assert.equal(result.stdout, 'out\nrunbox\n');
    assert.equal(result.stderr, 'err\n');
    assert.equal(harness.run(['state', 'run-1']).code, 1, 'run deletes the container when it exits');
    const missing = harness.run(['run', '--bundle', makeBundle(harness, 'b-missing', ['no-such-program']), 'run-2']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /executable file not found in \$PATH/);
    assert.equal(harness.run(['state', 'run-2']).code, 1, 'nothing is left of a failed run');
  });

  it('exec into a running box, attached and detached', async () => {
    const id = 'exec-1';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-exec', ['sleep', '60']);
    assert.equal(harness.run(['run', '--detach', '--bundle', bundle, id]).code, 0);
    const attached = harness.run(['exec', id, 'sh', '-c', 'echo in-box $(hostname); cat /proc/1/cmdline | tr "\\0" " "; exit 4']);
    assert.equal(attached.code, 4, attached.stderr);
    assert.equal(attached.stdout, 'in-box nsbox-runc\nsleep 60 ');
    const processFile = join(harness.dir, 'process.json');
    writeFileSync(
      processFile,
      JSON.stringify({ user: { uid: 1000, gid: 1000 }, args: ['sh', '-c', 'id -u > /dev/shm/who; sleep 1'], cwd: '/', env: ['PATH=/bin'] }),
    );
    const pidFile = join(harness.dir, 'exec.pid');
    const detached = harness.run(['exec', '--detach', '--process', processFile, '--pid-file', pidFile, id]);
    assert.equal(detached.code, 0, detached.stderr);
    assert.ok(Number(readFileSync(pidFile, 'utf8')) > 0);
    await sleep(300);
    assert.equal(harness.run(['exec', id, 'cat', '/dev/shm/who']).stdout, '1000\n');
    const ps = harness.run(['ps', '--format', 'json', id]);
    assert.ok((JSON.parse(ps.stdout) as number[]).includes(state(harness, id).pid as number));
  });

  it('pause and resume freeze and thaw the box', async () => {
    const id = 'pause-1';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-pause', ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /dev/shm/tick; sleep 0.05; done']);
    assert.equal(harness.run(['run', '-d', '--bundle', bundle, id]).code, 0);
    await sleep(200);
    assert.equal(harness.run(['pause', id]).code, 0);
    assert.equal(state(harness, id).status, 'paused');
    const refused = harness.run(['exec', id, 'true']);
    assert.match(refused.stderr, /cannot exec in a paused container/);
    assert.equal(harness.run(['resume', id]).code, 0);
    assert.equal(state(harness, id).status, 'running');
    const first = harness.run(['exec', id, 'cat', '/dev/shm/tick']).stdout;
    await sleep(200);
    assert.notEqual(harness.run(['exec', id, 'cat', '/dev/shm/tick']).stdout, first, 'it runs again');
  });

  it('update changes the memory limit of a running box live (the cgroup manager, owner oci)', () => {
    const id = 'update-1';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-update', ['sleep', '60'], (config) => {
      config.linux.resources = { ...config.linux.resources, memory: { limit: 64 * 2 ** 20 }, pids: { limit: 50 } };
    });
    assert.equal(harness.run(['run', '-d', '--bundle', bundle, id]).code, 0);
    const read = (file: string) => harness.run(['exec', id, 'cat', `/sys/fs/cgroup/memory/${file}`]).stdout.trim();
    assert.equal(read('memory.limit_in_bytes'), String(64 * 2 ** 20));
    const updated = harness.run(['update', '--memory', '96m', id]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(read('memory.limit_in_bytes'), String(96 * 2 ** 20));
    const resources = join(harness.dir, 'resources.json');
    writeFileSync(resources, JSON.stringify({ pids: { limit: 77 } }));
    assert.equal(harness.run(['update', '--resources', resources, id]).code, 0);
    assert.equal(harness.run(['exec', id, 'cat', '/sys/fs/cgroup/pids/pids.max']).stdout.trim(), '77');
    assert.equal(read('memory.limit_in_bytes'), String(96 * 2 ** 20), 'what the update did not name stays');
  });

  /** Whether this kernel weighs IO per cgroup (v1 blkio.weight with CFQ, or BFQ's file). */
  function kernelWeighsIo(): boolean {
    return ['blkio.weight', 'blkio.bfq.weight'].some((file) => existsSync(join('/sys/fs/cgroup/blkio', file)));
  }

  /** Whether boxes here can get a hugetlb cgroup: a v1 hierarchy, or cgroup2 delegating it below the root. */
  function hugetlbForBoxes(): boolean {
    if (existsSync('/sys/fs/cgroup/hugetlb')) return true;
    const unified = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((dir) => existsSync(join(dir, 'cgroup.subtree_control')));
    return unified !== undefined && readFileSync(join(unified, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('hugetlb');
  }

  it('applies disableOOMKiller, realtime CPU time and update --cpu-rt-runtime, ignores memory.kernel as runc does, and refuses what this kernel cannot do with its reason', () => {
    const rtFile = '/sys/fs/cgroup/cpu/cpu.rt_runtime_us';
    const hasRealtime = existsSync(rtFile);
    const id = 'update-rt';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-update-rt', ['sleep', '60'], (config) => {
      config.linux.resources = {
        ...config.linux.resources,
        memory: { limit: 64 * 2 ** 20, disableOOMKiller: true, kernel: 32 * 2 ** 20 },
        ...(hasRealtime ? { cpu: { realtimeRuntime: 10_000, realtimePeriod: 1_000_000 } } : {}),
      };
    });
    const started = harness.run(['run', '-d', '--bundle', bundle, id]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stderr, /memory\.kernel is ignored/, 'accepted with a warning, as runc does on kernels without it');
    const read = (file: string) => harness.run(['exec', id, 'cat', file]).stdout.trim();
    assert.match(read('/sys/fs/cgroup/memory/memory.oom_control'), /^oom_kill_disable 1$/m);
    assert.equal(read('/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes') === String(32 * 2 ** 20), false, 'memory.kernel is not written');
    if (hasRealtime) {
      assert.equal(read('/sys/fs/cgroup/cpu/cpu.rt_runtime_us'), '10000');
      const rt = harness.run(['update', '--cpu-rt-runtime', '20000', id]);
      assert.equal(rt.code, 0, rt.stderr);
      assert.equal(read('/sys/fs/cgroup/cpu/cpu.rt_runtime_us'), '20000');
    } else console.log(`      (no ${rtFile}: this kernel has no realtime group scheduling)`);

    const weight = harness.run(['update', '--blkio-weight', '300', id]);
    if (kernelWeighsIo()) assert.equal(weight.code, 0, weight.stderr);
    else {
      assert.equal(weight.code, 1);
      assert.match(
        weight.stderr,
        /--blkio-weight is not supported: this kernel weighs IO only with the BFQ scheduler, and there is no blkio\.weight or blkio\.bfq\.weight here/,
      );
    }

    const huge = makeBundle(harness, 'b-huge', ['true'], (config) => {
      config.linux.resources = { ...config.linux.resources, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] };
    });
    const hugeRun = harness.run(['run', '--bundle', huge, 'huge-1']);
    if (hugetlbForBoxes()) assert.equal(hugeRun.code, 0, hugeRun.stderr);
    else {
      assert.equal(hugeRun.code, 1);
      assert.match(
        hugeRun.stderr,
        /linux\.resources\.hugepageLimits\[0\] is not supported: the hugetlb controller is on \S+ but the host does not delegate it/,
      );
      assert.equal(harness.run(['state', 'huge-1']).code, 1, 'nothing was made');
    }
  });

  it('runs hooks with the state on stdin, in order', () => {
    const id = 'hooks-1';
    const log = join(harness.dir, 'hooks.log');
    const hook = (name: string) => ({
      path: '/bin/sh',
      args: ['sh', '-c', `read state; echo "${name} $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${log}`],
    });
    const bundle = makeBundle(harness, 'b-hooks', ['true'], (config) => {
      config.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    assert.equal(harness.run(['run', '--bundle', bundle, id]).code, 0);
    assert.equal(
      readFileSync(log, 'utf8'),
      'prestart "status":"creating"\ncreateRuntime "status":"creating"\npoststart "status":"running"\npoststop "status":"stopped"\n',
    );
    const failing = makeBundle(harness, 'b-hooks-fail', ['true'], (config) => {
      config.hooks = { createRuntime: [{ path: '/bin/false' }] };
    });
    const result = harness.run(['create', '--bundle', failing, 'hooks-2']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error running createRuntime hook #0/);
    assert.equal(harness.run(['state', 'hooks-2']).code, 1, 'a failed hook leaves no container');
  });

  it('one create wins when two race for the same id', async () => {
    const bundle = makeBundle(harness, 'b-race', ['sleep', '30']);
    ids.push('race-1');
    const both = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number | null>((resolve) => {
            const child = spawn(harness.wrapper, ['create', '--bundle', bundle, 'race-1'], { stdio: 'ignore' });
            child.on('exit', resolve);
          }),
      ),
    );
    assert.deepEqual([...both].sort(), [0, 1]);
    assert.equal(state(harness, 'race-1').status, 'created');
  });

  it('refuses bad input the runc way, leaving nothing behind', () => {
    const log = join(harness.dir, 'errors.log');
    const fail = (args: string[], pattern: RegExp) => {
      const result = harness.run(['--log', log, '--log-format', 'json', ...args]);
      assert.equal(result.code, 1, `${args.join(' ')} should fail`);
      assert.match(result.stderr, pattern);
      const last = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1) as string) as { level: string; msg: string };
      assert.equal(last.level, 'error');
      assert.match(last.msg, pattern);
    };
    const empty = join(harness.dir, 'b-empty');
    mkdirSync(empty, { recursive: true });
    fail(['create', '--bundle', empty, 'bad-1'], /config\.json not found/);
    const malformed = makeBundle(harness, 'b-malformed', ['true']);
    writeFileSync(join(malformed, 'config.json'), '{"ociVersion": "1.0.2", ');
    fail(['create', '--bundle', malformed, 'bad-1'], /is not valid JSON/);
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-ns', ['true'], (config) => config.linux.namespaces.push({ type: 'hostfs' })), 'bad-1'],
      /unknown namespace type 'hostfs'/,
    );
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-noroot', ['true'], (config) => (config.root.path = join(harness.dir, 'nowhere'))), 'bad-1'],
      /rootfs \(.*nowhere\) does not exist/,
    );
    const link = join(harness.dir, 'rootfs-link');
    symlinkSync(harness.rootfs, link);
    fail(['create', '--bundle', makeBundle(harness, 'b-link', ['true'], (config) => (config.root.path = link)), 'bad-1'], /is a symlink/);
    fail(['create', '--bundle', makeBundle(harness, 'b-version', ['true'], (config) => (config.ociVersion = '2.0.0')), 'bad-1'], /ociVersion is not supported/);
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-notify', ['true'], (config) => (config.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' })), 'bad-1'],
      /linux\.seccomp\.defaultAction is not supported/,
    );
    // What runc and crun both refuse.
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-mempolicy', ['true'], (config) => (config.linux.memoryPolicy = { nodes: '0' })), 'bad-1'],
      /linux\.memoryPolicy\.mode: is required/,
    );
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-hostname', ['true'], (config) => (config.linux.sysctl = { 'kernel.hostname': 'other' })), 'bad-1'],
      /linux\.sysctl\.kernel\.hostname: set the hostname with the `hostname` field/,
    );
    const domain = (config: BundleConfig) => {
      config.domainname = 'one.example';
      config.linux.sysctl = { 'kernel.domainname': 'two.example' };
    };
    fail(
      ['create', '--bundle', makeBundle(harness, 'b-domain', ['true'], domain), 'bad-1'],
      /kernel\.domainname 'two\.example' conflicts with domainname 'one\.example'/,
    );
    assert.equal(harness.run(['state', 'bad-1']).code, 1, 'no container is left of any of them');
    const unusableLog = harness.run(['--log', join(harness.dir, 'no-such-dir', 'x.log'), 'list']);
    assert.equal(unusableLog.code, 1, 'a --log that cannot be opened fails the command, as in runc and crun');
    assert.match(unusableLog.stderr, /--log .*no-such-dir\/x\.log: ENOENT/);

    const ok = makeBundle(harness, 'b-inuse', ['sleep', '30']);
    ids.push('busy-1');
    assert.equal(harness.run(['create', '--bundle', ok, 'busy-1']).code, 0);
    fail(['create', '--bundle', ok, 'busy-1'], /container with id exists: busy-1/);
    fail(['resume', 'busy-1'], /container not paused/);
    assert.equal(harness.run(['start', 'busy-1']).code, 0);
    fail(['delete', 'busy-1'], /cannot delete container busy-1 that is not stopped: running/);
    fail(['kill', 'nobody-1'], /container nobody-1 does not exist/);
    fail(['state', '../etc'], /invalid container id/);
    assert.equal(harness.run(['delete', '--force', 'busy-1']).code, 0);
    assert.deepEqual(cgroupDirs(harness.cgroupParent), [], 'no cgroup is left');
    assert.equal(harness.run(['list', '--quiet']).stdout, '');
  });

  it('features, spec and list answer as runc does', () => {
    const features = JSON.parse(harness.run(['features']).stdout) as { linux: { namespaces: string[]; cgroup: { systemd: boolean } } };
    assert.ok(features.linux.namespaces.includes('time'));
    const systemdHost = existsSync('/run/systemd/system') && detectCgroupLayout().kind === 'v2';
    assert.equal(features.linux.cgroup.systemd, systemdHost);
    assert.equal(harness.run(['--systemd-cgroup', 'list']).code, 0, 'a global flag every command takes');
    assert.equal(harness.run(['list', '--quiet']).code, 0);
  });

  it('refuses to checkpoint a container that is not running, flags it cannot honour, and a restore without images, leaving nothing (issue 18)', () => {
    const id = 'cr-refused';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-cr', ['sleep', '60']);
    assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
    const created = harness.run(['checkpoint', '--image-path', join(harness.dir, 'cr-images'), id]);
    assert.equal(created.code, 1);
    assert.match(created.stderr, /container cr-refused is created: only a running container can be checkpointed/);
    const preDump = harness.run(['checkpoint', '--pre-dump', id]);
    assert.equal(preDump.code, 1);
    assert.match(preDump.stderr, /--pre-dump is not supported by nsbox-runc/);
    assert.equal(harness.run(['delete', id]).code, 0);

    const empty = join(harness.dir, 'cr-empty');
    mkdirSync(empty, { recursive: true });
    const restored = harness.run(['restore', '--image-path', empty, '--bundle', bundle, '--detach', id]);
    assert.equal(restored.code, 1);
    assert.match(restored.stderr, new RegExp(`no checkpoint in ${empty}`));
    assert.equal(harness.run(['list', '--quiet']).stdout, '', 'a failed restore leaves no container');
  });

  it('refuses a server wait that is not a number of seconds, naming the variable, before it starts anything', () => {
    const root = join(harness.dir, 'root-wait');
    const result = spawnSync(nativePaths(packageRoot()).front, ['--root', root, 'list'], {
      encoding: 'utf8',
      env: { ...process.env, NSBOX_RUNC_SERVER_WAIT_SECONDS: 'soon' },
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /NSBOX_RUNC_SERVER_WAIT_SECONDS 'soon': a whole number of seconds from 1 to 3600/);
    assert.ok(!existsSync(join(root, 'server.pid')), 'no server was started');
  });

  it('refuses --systemd-cgroup where PID 1 is not systemd, and a systemd path without it, leaving nothing', function () {
    if (existsSync('/run/systemd/system') && detectCgroupLayout().kind === 'v2') this.skip(); // podman.test.ts runs it there
    const bundle = makeBundle(harness, 'b-systemd', ['true'], (config) => {
      config.linux = { ...config.linux, cgroupsPath: 'machine.slice:nsbox-test:b-systemd' };
    });
    const refused = harness.run(['--systemd-cgroup', 'create', '--bundle', bundle, 'systemd-1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--systemd-cgroup needs systemd as PID 1 on a pure cgroup2 host/);
    const crunFlag = harness.run(['--cgroup-manager', 'systemd', 'create', '--bundle', bundle, 'systemd-3']);
    assert.equal(crunFlag.code, 1);
    assert.match(crunFlag.stderr, /--systemd-cgroup needs systemd as PID 1/, "crun's --cgroup-manager systemd is --systemd-cgroup");
    const unknown = harness.run(['--cgroup-manager', 'disabled', 'create', '--bundle', bundle, 'systemd-4']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--cgroup-manager disabled is not supported/);
    const withoutFlag = harness.run(['create', '--bundle', bundle, 'systemd-2']);
    assert.equal(withoutFlag.code, 1);
    assert.match(withoutFlag.stderr, /is a systemd path \(slice:prefix:name\): it needs --systemd-cgroup/);
    assert.equal(harness.run(['list', '--quiet']).stdout, '');
    assert.deepEqual(cgroupDirs(harness.cgroupParent), []);
  });
});
