/**
 * The OCI runtime spec as runc and crun carry it out (issue 20), field by field, through
 * the real nsbox-runc on real boxes: seccomp as the last step, the process attributes,
 * device nodes, propagation, the seccomp agent, inherited fds, `spec --rootless`, the
 * behaviours runc and crun share, and the hooks at their moments.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildBusyboxRootfs, Cleanup, makeTempDir, requireRoot } from '@nsbox/testkit';
import { type BundleConfig, cleanupBundle, createHarness, ensureNativeBuilt, makeBundle, type RuncHarness } from './runc-harness.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

const userns = (config: BundleConfig, extra: Partial<BundleConfig['linux']> = {}) => {
  config.linux.namespaces.push({ type: 'user' });
  config.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  config.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  Object.assign(config.linux, extra);
  // devpts' gid=5 and the cgroup binds need mapped ids: keep what a user namespace can mount.
  config.mounts = config.mounts.filter((mount: { type: string }) => mount.type !== 'cgroup');
};

describe('nsbox-runc: the runtime spec as runc and crun carry it out', function () {
  this.timeout(120_000);
  const cleanup = new Cleanup();
  let harness: RuncHarness;
  let dir: string;
  const ids: string[] = [];

  before(function () {
    requireRoot(this, 'nsbox-runc creates namespaces and cgroups');
    ensureNativeBuilt();
    dir = makeTempDir(cleanup, 'oci-conf');
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    for (const tool of ['probe', 'seccomp-agent']) {
      execFileSync('gcc', ['-static', '-O1', '-o', join(rootfs, 'bin', tool), join(fixtures, `${tool}.c`)], { stdio: 'pipe' });
      chmodSync(join(rootfs, 'bin', tool), 0o755);
    }
    harness = createHarness(cleanup, join(dir, 'work'), rootfs, `conf-${process.pid}`);
  });

  afterEach(() => {
    for (const id of ids.splice(0)) harness.run(['delete', '--force', id]);
  });

  after(async () => {
    if (harness) cleanupBundle(harness, []);
    const failures = await cleanup.run();
    assert.deepEqual(failures, []);
  });

  /** `run` of a bundle made for `args`, its output (the run must succeed). */
  function runBox(id: string, args: string[], edit: (config: BundleConfig) => void = () => undefined, options: Parameters<RuncHarness['run']>[1] = {}): string {
    ids.push(id);
    const bundle = makeBundle(harness, `b-${id}`, args, edit);
    const result = harness.run(['run', '--bundle', bundle, id], options);
    assert.equal(result.code, 0, `run ${id}: ${result.stderr}`);
    return result.stdout;
  }

  const lines = (text: string) => text.trim().split('\n');

  describe('seccomp is the last step before execve (item 1)', () => {
    // What the launcher calls after the box is built; an allowlist profile written for runc
    // or crun has no reason to allow them.
    const launcherSyscalls = ['openat2', 'close_range', 'capset', 'capget', 'setresuid', 'setresgid', 'setgroups', 'fchdir', 'umask', 'dup3', 'accept4'];
    const denyLauncherSyscalls = (config: BundleConfig) => {
      config.process.noNewPrivileges = false;
      config.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: [...launcherSyscalls, 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
      };
    };

    it('runs a box whose profile denies every syscall of the launcher, without noNewPrivileges, as root and as a user', () => {
      const asRoot = runBox('sc-root', ['sh', '-c', 'mkdir /tmp/x 2>&1; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'], denyLauncherSyscalls);
      assert.deepEqual(lines(asRoot), ["mkdir: can't create directory '/tmp/x': Function not implemented", 'NoNewPrivs:\t0', 'Seccomp:\t2']);
      const asUser = runBox('sc-user', ['sh', '-c', 'id -u; grep -E "^CapEff:" /proc/self/status'], (config) => {
        denyLauncherSyscalls(config);
        config.process.user = { uid: 1000, gid: 1000 };
        config.process.capabilities = {};
      });
      assert.deepEqual(lines(asUser), ['1000', 'CapEff:\t0000000000000000'], 'CAP_SYS_ADMIN, kept for the load, is gone after exec');
    });

    it("puts an exec'd process under the same filter, loaded after the launcher's own syscalls in join mode", () => {
      const id = 'sc-exec';
      ids.push(id);
      const bundle = makeBundle(harness, `b-${id}`, ['sleep', '60'], denyLauncherSyscalls);
      assert.equal(harness.run(['run', '--detach', '--bundle', bundle, id]).code, 0);
      const execd = harness.run(['exec', id, 'sh', '-c', 'mkdir /tmp/e 2>&1; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status']);
      assert.equal(execd.code, 0, execd.stderr);
      assert.deepEqual(lines(execd.stdout), ["mkdir: can't create directory '/tmp/e': Function not implemented", 'NoNewPrivs:\t0', 'Seccomp:\t2']);
    });

    it('loads the filter at start, after the wait: the held init is not under it', () => {
      const id = 'sc-held';
      ids.push(id);
      // The held init waits in accept4: a filter loaded before the wait would kill it there.
      const bundle = makeBundle(harness, `b-${id}`, ['echo', 'started'], (config) => {
        config.process.noNewPrivileges = true;
        config.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['accept4', 'accept'], action: 'SCMP_ACT_KILL_PROCESS' }] };
      });
      assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
      const started = harness.run(['start', id]);
      assert.equal(started.code, 0, started.stderr);
      assert.equal((JSON.parse(harness.run(['state', id]).stdout) as { status: string }).status !== 'created', true);
    });
  });

  describe('fields runc or crun apply (item 2)', () => {
    it('process.scheduler, ioPriority, user.umask, linux.memoryPolicy and personality reach the process', () => {
      const out = runBox('attrs', ['sh', '-c', 'probe sched; probe ioprio; probe umask; probe mempolicy; probe personality; uname -m'], (config) => {
        config.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 };
        config.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 };
        config.process.user.umask = 0o027;
        config.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' };
        config.linux.personality = { domain: 'LINUX32' };
      });
      // SCHED_BATCH is 3, IOPRIO_CLASS_IDLE 3, MPOL_BIND 2 (node 0), PER_LINUX32 8.
      assert.deepEqual(lines(out), ['policy 3 nice 7', 'class 3 level 0', '0027', 'mode 2 nodes 0x1', '0x8', 'i686']);
      const defaults = runBox('attrs-default', ['sh', '-c', 'probe sched; probe umask; probe mempolicy; probe personality']);
      assert.deepEqual(lines(defaults), ['policy 0 nice 0', '0022', 'mode 0 nodes 0x0', '0x0'], 'the control: nothing set, nothing changed');
    });

    it('makes fifos and owned device nodes, in /dev and elsewhere', () => {
      const out = runBox('devices', ['sh', '-c', 'probe node /dev/myfifo; probe node /dev/mynull; probe node /opt/devices/zero2'], (config) => {
        config.linux.devices = [
          { path: '/dev/myfifo', type: 'p', fileMode: 0o640, uid: 1000, gid: 1001 },
          { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 1000, gid: 1001 },
          { path: '/opt/devices/zero2', type: 'c', major: 1, minor: 5, fileMode: 0o600 },
        ];
        config.linux.resources.devices = [{ allow: true, access: 'rwm' }];
      });
      assert.deepEqual(lines(out), ['fifo 640 1000 1001 0:0', 'char 666 1000 1001 1:3', 'char 600 0 0 1:5']);
    });

    it('gives the root and a mount unbindable propagation', () => {
      // Field 5 of mountinfo is the mount point.
      const out = runBox('unbindable', ['sh', '-c', 'grep -E "^([^ ]+ ){4}(/|/mnt/u) " /proc/self/mountinfo'], (config) => {
        config.linux.rootfsPropagation = 'runbindable';
        config.mounts.push({ destination: '/mnt/u', type: 'tmpfs', source: 'tmpfs', options: ['unbindable'] });
      });
      const [root, mnt] = lines(out);
      assert.match(root ?? '', / \/ .* unbindable /);
      assert.match(mnt ?? '', / \/mnt\/u .* unbindable /);
    });

    it('hands the seccomp listener with the container state to the agent at listenerPath (SCMP_ACT_NOTIFY)', async () => {
      const socket = join(harness.dir, 'agent.sock');
      const stateFile = join(harness.dir, 'agent-state.json');
      // The agent answers every notified mkdir with ENOSPC (28), which no real mkdir here gives.
      const agent = spawn(join(harness.rootfs, 'bin', 'seccomp-agent'), [socket, stateFile, '28'], { stdio: ['ignore', 'pipe', 'inherit'] });
      cleanup.add('stop the seccomp agent', () => {
        agent.kill('SIGKILL');
      });
      await new Promise((resolve) => agent.stdout?.once('data', resolve));
      const out = runBox('notify', ['sh', '-c', 'mkdir /tmp/n 2>&1; echo done'], (config) => {
        config.linux.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: socket,
          listenerMetadata: 'nsbox-test',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
        };
      });
      assert.deepEqual(lines(out), ["mkdir: can't create directory '/tmp/n': No space left on device", 'done']);
      const payload = JSON.parse(readFileSync(stateFile, 'utf8')) as {
        fds: string[];
        pid: number;
        metadata: string;
        state: { id: string; pid: number; status: string };
      };
      assert.deepEqual(payload.fds, ['seccompFd']);
      assert.equal(payload.metadata, 'nsbox-test');
      assert.equal(payload.state.id, 'notify');
      assert.ok(payload.pid > 0 && payload.state.pid === payload.pid);
    });

    it('loads the filter with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: a signal no longer cuts a notified syscall the agent holds', async () => {
      /** A box whose mkdir the agent answers with ENOSPC after 1.5 s, a SIGALRM due at 0.3 s. */
      const mkdirUnderSignal = async (id: string, flags: string[]) => {
        const socket = join(harness.dir, `${id}.sock`);
        const agent = spawn(join(harness.rootfs, 'bin', 'seccomp-agent'), [socket, join(harness.dir, `${id}.json`), '28', '1500'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        cleanup.add(`stop the seccomp agent of ${id}`, () => {
          agent.kill('SIGKILL');
        });
        await new Promise((resolve) => agent.stdout?.once('data', resolve));
        return runBox(id, ['probe', 'mkdir-alarm', '/tmp/w', '300'], (config) => {
          config.linux.seccomp = {
            defaultAction: 'SCMP_ACT_ALLOW',
            listenerPath: socket,
            flags,
            syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
          };
        }).trim();
      };
      assert.equal(await mkdirUnderSignal('killable', ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']), 'ENOSPC', "the agent's answer came");
      assert.equal(await mkdirUnderSignal('interruptible', []), 'EINTR', 'the control: without the flag the signal cuts the wait');
    });

    it('passes --preserve-fds and socket-activation fds on, with LISTEN_FDS and LISTEN_PID', () => {
      const file = (name: string, text: string) => {
        const path = join(harness.dir, name);
        writeFileSync(path, `${text}\n`);
        return openSync(path, 'r');
      };
      const three = file('fd3', 'three');
      const four = file('fd4', 'four');
      try {
        const preserved = runBox('fds', ['sh', '-c', 'probe fd 3; probe fd 4; probe fd 5'], () => undefined, { fds: [three, four] });
        assert.deepEqual(lines(preserved), ['EBADF', 'EBADF', 'EBADF'], 'without --preserve-fds nothing passes');
        ids.push('fds-2');
        const bundle = makeBundle(harness, 'b-fds-2', ['sh', '-c', 'probe fd 3; probe fd 4; probe fd 5']);
        const passed = harness.run(['run', '--preserve-fds', '2', '--bundle', bundle, 'fds-2'], {
          fds: [openSync(join(harness.dir, 'fd3'), 'r'), openSync(join(harness.dir, 'fd4'), 'r')],
        });
        assert.equal(passed.code, 0, passed.stderr);
        assert.deepEqual(lines(passed.stdout), ['three', 'four', 'EBADF']);
        ids.push('fds-3');
        const listen = makeBundle(harness, 'b-fds-3', ['sh', '-c', 'probe fd 3; echo "$LISTEN_FDS $LISTEN_PID"']);
        const activated = harness.run(['run', '--bundle', listen, 'fds-3'], { fds: [openSync(join(harness.dir, 'fd3'), 'r')], env: { LISTEN_FDS: '1' } });
        assert.equal(activated.code, 0, activated.stderr);
        assert.deepEqual(lines(activated.stdout), ['three', '1 1']);
        ids.push('fds-exec');
        const running = makeBundle(harness, 'b-fds-exec', ['sleep', '60']);
        assert.equal(harness.run(['run', '--detach', '--bundle', running, 'fds-exec']).code, 0);
        const execd = harness.run(['exec', '--preserve-fds', '1', 'fds-exec', 'probe', 'fd', '3'], { fds: [openSync(join(harness.dir, 'fd4'), 'r')] });
        assert.equal(execd.stdout.trim(), 'four', execd.stderr);
        const missing = harness.run(['run', '--preserve-fds', '3', '--bundle', bundle, 'fds-4']);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /--preserve-fds 3: the caller has 0 fds open from fd 3/);
      } finally {
        closeSync(three);
        closeSync(four);
      }
    });

    it('puts the box in a top-level linux.cgroupsPath, right below the cgroup mount points, and removes it at delete', () => {
      const top = `nsbox-test-cgtop-${process.pid}`;
      const roots = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((line) => / - cgroup2? /.test(line))
        .map((line) => line.split(' ')[4] as string);
      cleanup.add('remove the top-level cgroup', () => {
        for (const root of roots) if (existsSync(join(root, top))) execFileSync('rmdir', [join(root, top)]);
      });
      const id = 'cgtop';
      ids.push(id);
      const bundle = makeBundle(harness, `b-${id}`, ['sleep', '60'], (config) => {
        config.linux.cgroupsPath = `/${top}`;
      });
      const ran = harness.run(['run', '--detach', '--bundle', bundle, id]);
      assert.equal(ran.code, 0, ran.stderr);
      const { pid } = JSON.parse(harness.run(['state', id]).stdout) as { pid: number };
      const placed = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
      // Every hierarchy the box is in (v1 controllers, cgroup2) names the path config.json gave.
      const ours = placed.filter((line) => line.endsWith(`:/${top}`));
      assert.ok(ours.length > 0 && placed.some((line) => /:pids:|^0::/.test(line) && line.endsWith(`:/${top}`)), placed.join('\n'));
      assert.equal(harness.run(['delete', '--force', id]).code, 0);
      assert.deepEqual(
        roots.filter((root) => existsSync(join(root, top))),
        [],
        'delete removed the cgroup',
      );
    });

    it('applies linux.resources.blockIO.weight where the kernel weighs IO, and refuses it with the reason where it cannot, making nothing', () => {
      // v1 shows blkio.weight (CFQ, gone since 5.0) or blkio.bfq.weight (BFQ) at the hierarchy root when the kernel has them.
      const blkio = '/sys/fs/cgroup/blkio';
      const weighs = ['blkio.weight', 'blkio.bfq.weight'].some((file) => existsSync(join(blkio, file)));
      const id = 'blkio-weight';
      ids.push(id);
      const bundle = makeBundle(
        harness,
        `b-${id}`,
        ['sh', '-c', 'cat /sys/fs/cgroup/blkio/blkio.bfq.weight /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null'],
        (config) => {
          config.linux.resources = { ...config.linux.resources, blockIO: { weight: 300 } };
        },
      );
      const result = harness.run(['run', '--bundle', bundle, id]);
      if (weighs) {
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /^(default )?300$/m);
      } else {
        assert.equal(result.code, 1);
        assert.match(result.stderr, /linux\.resources\.blockIO\.weight is not supported: this kernel weighs IO only with the BFQ scheduler/);
        assert.equal(harness.run(['state', id]).code, 1, 'nothing was made');
        // The kernel's own word: no scheduler of any disk here is bfq.
        const schedulers = existsSync('/sys/block')
          ? execFileSync('sh', ['-c', 'cat /sys/block/*/queue/scheduler 2>/dev/null || true'], { encoding: 'utf8' })
          : '';
        assert.doesNotMatch(schedulers, /\bbfq\b/);
      }
    });

    it('moves a host network device named in linux.netDevices into the box, renamed, with its address and up', () => {
      // A veth pair of the test's own (this kernel has no dummy driver), with an address of
      // TEST-NET-1 (RFC 5737) on the end that moves; the peer stays down, without an address.
      const host = `nsbt${process.pid}`.slice(0, 15);
      const peer = `nsbp${process.pid}`.slice(0, 15);
      const ipHost = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
      const made = ipHost(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
      assert.equal(made.status, 0, made.stderr);
      cleanup.add('remove the test veth pair', () => {
        for (const name of [host, peer]) if (ipHost(['link', 'show', 'dev', name]).status === 0) execFileSync('ip', ['link', 'del', 'dev', name]);
      });
      execFileSync('ip', ['address', 'add', '192.0.2.77/32', 'dev', host]);
      execFileSync('ip', ['link', 'set', 'dev', host, 'up']);
      const id = 'netdev';
      ids.push(id);
      const bundle = makeBundle(harness, `b-${id}`, ['sleep', '60'], (config) => {
        config.linux.netDevices = { [host]: { name: 'boxnet0' } };
      });
      const created = harness.run(['create', '--bundle', bundle, id]);
      assert.equal(created.code, 0, created.stderr);
      assert.notEqual(ipHost(['link', 'show', 'dev', host]).status, 0, 'the device left the host at create');
      assert.equal(harness.run(['start', id]).code, 0);
      // flags 0x...1: IFF_UP; the /32 shows in the box's local routes.
      const inside = harness.run([
        'exec',
        id,
        'sh',
        '-c',
        'echo $(ls /sys/class/net); cat /sys/class/net/boxnet0/flags; grep -c "192.0.2.77" /proc/net/fib_trie',
      ]);
      assert.equal(inside.code, 0, inside.stderr);
      const [names, flags, address] = inside.stdout
        .trim()
        .split('\n')
        .map((line) => line.trim());
      assert.deepEqual(names?.split(/\s+/).sort(), ['boxnet0', 'lo']);
      assert.equal(Number(flags) & 1, 1, `boxnet0 is up: ${flags}`);
      assert.ok(Number(address) >= 1, 'boxnet0 kept 192.0.2.77');
      const refused = harness.run([
        'create',
        '--bundle',
        makeBundle(harness, 'b-netdev-host', ['true'], (config) => {
          config.linux.namespaces = config.linux.namespaces.filter((namespace: { type: string }) => namespace.type !== 'network');
          config.linux.netDevices = { [host]: {} };
        }),
        'netdev-host',
      ]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /linux\.netDevices: needs a network namespace of the box's/);
      const missing = harness.run([
        'create',
        '--bundle',
        makeBundle(harness, 'b-netdev-missing', ['true'], (config) => {
          config.linux.netDevices = { 'nsbt-none': {} };
        }),
        'netdev-missing',
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /linux\.netDevices\.nsbt-none: read the device: .*nsbt-none/);
      assert.equal(harness.run(['state', 'netdev-missing']).code, 1, 'nothing was left of it');
    });

    it('idmaps a bind mount with mappings of its own, in a box with a user namespace and without', () => {
      const source = join(dir, 'idmap-src');
      mkdirSync(source, { recursive: true });
      writeFileSync(join(source, 'file'), 'mapped\n');
      chownSync(join(source, 'file'), 1000, 1000);
      mkdirSync(join(harness.rootfs, 'mnt', 'idm'), { recursive: true });
      // On disk 1000 → host 200500: the box (0 → 200000) sees 500; a box without a user namespace sees 200500.
      const mapping = [{ containerID: 1000, hostID: 200500, size: 1 }];
      const idmapped = (config: BundleConfig) =>
        config.mounts.push({ destination: '/mnt/idm', type: 'bind', source, options: ['bind', 'idmap'], uidMappings: mapping, gidMappings: mapping });
      const inUserns = runBox('idmap-own', ['sh', '-c', 'stat -c "%u %g" /mnt/idm/file; cat /mnt/idm/file'], (config) => {
        userns(config);
        idmapped(config);
      });
      assert.deepEqual(lines(inUserns), ['500 500', 'mapped']);
      const onHost = runBox('idmap-host', ['stat', '-c', '%u %g', '/mnt/idm/file'], idmapped);
      assert.equal(onHost.trim(), '200500 200500');
      const plain = runBox('idmap-none', ['stat', '-c', '%u %g', '/mnt/idm/file'], (config) =>
        config.mounts.push({ destination: '/mnt/idm', type: 'bind', source, options: ['bind'] }),
      );
      assert.equal(plain.trim(), '1000 1000', 'the control: without the idmap the disk ids show');
    });

    it('writes a spec for a user namespace with spec --rootless, and runs it', () => {
      const bundle = join(harness.dir, 'b-rootless');
      mkdirSync(bundle, { recursive: true });
      assert.equal(harness.run(['spec', '--rootless', '--bundle', bundle]).code, 0);
      const file = join(bundle, 'config.json');
      const config = JSON.parse(readFileSync(file, 'utf8')) as BundleConfig;
      const types = config.linux.namespaces.map((namespace: { type: string }) => namespace.type);
      assert.ok(types.includes('user') && !types.includes('network'));
      assert.deepEqual(config.linux.uidMappings, [{ containerID: 0, hostID: 0, size: 1 }]);
      assert.equal(config.linux.resources, undefined);
      assert.ok(!JSON.stringify(config.mounts).includes('gid='));
      config.root = { path: harness.rootfs, readonly: true };
      config.process.terminal = false;
      config.process.args = ['cat', '/proc/self/uid_map'];
      config.mounts = config.mounts.filter((mount: { type: string }) => mount.type !== 'cgroup');
      writeFileSync(file, JSON.stringify(config));
      ids.push('rootless');
      const ran = harness.run(['run', '--bundle', bundle, 'rootless']);
      assert.equal(ran.code, 0, ran.stderr);
      assert.deepEqual(ran.stdout.trim().split(/\s+/), ['0', '0', '1']);
    });
  });

  describe('behaviour runc and crun share (item 3)', () => {
    it('creates a missing working directory, sets HOME from the box passwd, and brings lo up in a new network namespace', () => {
      const out = runBox('cwd-home', ['sh', '-c', 'pwd; echo "$HOME"; cat /sys/class/net/lo/flags'], (config) => {
        config.process.cwd = '/srv/made/here';
        config.process.env = config.process.env.filter((variable: string) => !variable.startsWith('HOME='));
      });
      assert.deepEqual(lines(out), ['/srv/made/here', '/root', '0x9']);
      const unknown = runBox('home-unknown', ['sh', '-c', 'echo "$HOME"'], (config) => {
        config.process.user = { uid: 4242, gid: 4242 };
        config.process.env = config.process.env.filter((variable: string) => !variable.startsWith('HOME='));
      });
      assert.equal(unknown.trim(), '/', 'a uid without a passwd entry gets /, as crun gives');
      const given = runBox('home-given', ['sh', '-c', 'echo "$HOME"'], (config) => config.process.env.push('HOME=/given'));
      assert.equal(given.trim(), '/given');
    });

    it('binds the host /dev, keeps a tmpfs mode, keeps submounts with rbind and resolves a dangling mount target inside the rootfs', async () => {
      const source = join(dir, 'rbind-src');
      mkdirSync(join(source, 'sub'), { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', 'nsbox-test-sub', join(source, 'sub')]);
      cleanup.add('unmount the rbind source', () => execFileSync('umount', [join(source, 'sub')]));
      writeFileSync(join(source, 'sub', 'inner'), 'from the submount\n');
      mkdirSync(join(harness.rootfs, 'srv', 'moded'), { recursive: true });
      chmodSync(join(harness.rootfs, 'srv', 'moded'), 0o712);
      const link = join(harness.rootfs, 'etc', 'nsbox-test-dangling');
      if (!existsSync(link)) execFileSync('ln', ['-s', '../nsbox-test-target/here', link]);
      const out = runBox(
        'mounts',
        [
          'sh',
          '-c',
          'test -c /dev/ptmx && test -c /dev/null && echo dev-bound; probe node /tmp/moded; probe node /srv/moded; cat /mnt/tree/sub/inner; grep -c " /nsbox-test-target/here " /proc/self/mountinfo',
        ],
        (config) => {
          config.mounts = config.mounts.filter((mount: { destination: string }) => !mount.destination.startsWith('/dev'));
          config.mounts.push(
            { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind', 'nosuid', 'noexec'] },
            { destination: '/tmp/moded', type: 'tmpfs', source: 'tmpfs', options: ['mode=1770', 'size=1m'] },
            // Without mode=: the mode of the directory it covers (crun's test_mount_tmpfs_permissions).
            { destination: '/srv/moded', type: 'tmpfs', source: 'tmpfs', options: ['ro'] },
            { destination: '/mnt/tree', type: 'bind', source, options: ['rbind', 'ro'] },
            { destination: '/etc/nsbox-test-dangling', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          );
          config.linux.resources.devices = [{ allow: true, access: 'rwm' }];
        },
      );
      assert.deepEqual(lines(out), ['dev-bound', 'other 1770 0 0 0:0', 'other 712 0 0 0:0', 'from the submount', '1']);
      assert.ok(existsSync(join(harness.rootfs, 'nsbox-test-target', 'here')), 'the link target was made inside the rootfs');
      assert.equal(existsSync('/nsbox-test-target'), false, 'nothing was made on the host');
    });

    it('copies what the image holds into a tmpfs with tmpcopyup, modes and links kept, the image untouched', () => {
      mkdirSync(join(harness.rootfs, 'srv', 'copied', 'deep'), { recursive: true });
      writeFileSync(join(harness.rootfs, 'srv', 'copied', 'deep', 'file'), 'from the image\n', { mode: 0o640 });
      const link = join(harness.rootfs, 'srv', 'copied', 'link');
      if (!existsSync(link)) execFileSync('ln', ['-s', 'deep/file', link]);
      const out = runBox(
        'copyup',
        [
          'sh',
          '-c',
          'cat /srv/copied/link; probe node /srv/copied/deep/file; echo new > /srv/copied/new && cat /srv/copied/new; grep -c " /srv/copied .* - tmpfs " /proc/self/mountinfo',
        ],
        (config) => config.mounts.push({ destination: '/srv/copied', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=1m'] }),
      );
      assert.deepEqual(lines(out), ['from the image', 'other 640 0 0 0:0', 'new', '1']);
      assert.equal(existsSync(join(harness.rootfs, 'srv', 'copied', 'new')), false, 'the write went to the tmpfs');
    });

    it('in a user namespace: binds a source only host root can reach, sets additionalGids, and without mappings maps root like crun', () => {
      const locked = join(dir, 'locked');
      // Only host root walks through `locked`; what the box sees, `inside`, is readable by all.
      mkdirSync(join(locked, 'inside'), { recursive: true, mode: 0o755 });
      chmodSync(locked, 0o700);
      writeFileSync(join(locked, 'inside', 'file'), 'reached\n');
      // The box's root (host uid 200000) may not create it in a rootfs owned by host root.
      mkdirSync(join(harness.rootfs, 'mnt', 'locked'), { recursive: true });
      const out = runBox('userns', ['sh', '-c', 'cat /mnt/locked/file; grep ^Groups: /proc/self/status'], (config) => {
        userns(config);
        config.mounts.push({ destination: '/mnt/locked', type: 'bind', source: join(locked, 'inside'), options: ['bind', 'ro'] });
        config.process.user.additionalGids = [5, 10];
      });
      assert.deepEqual(lines(out), ['reached', 'Groups:\t5 10']);
      const unmapped = runBox('userns-own', ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map'], (config) => {
        userns(config);
        delete config.linux.uidMappings;
        delete config.linux.gidMappings;
        config.mounts = config.mounts.filter((mount: { type: string }) => mount.type !== 'devpts' && mount.type !== 'mqueue');
      });
      assert.deepEqual(
        lines(unmapped).map((line) => line.trim().split(/\s+/)),
        [
          ['0', '0', '1'],
          ['0', '0', '1'],
        ],
      );
    });

    it("runs an exec'd process as the leader of its own process group", () => {
      const id = 'pgrp';
      ids.push(id);
      const bundle = makeBundle(harness, `b-${id}`, ['sleep', '60']);
      assert.equal(harness.run(['run', '--detach', '--bundle', bundle, id]).code, 0);
      const attached = harness.run(['exec', id, 'probe', 'pgrp']);
      assert.equal(attached.stdout.trim(), 'leads its group', attached.stderr);
    });

    it('reports a short program that printed and exited before start returned as started, not as exited before start', async () => {
      const id = 'short';
      ids.push(id);
      const bundle = makeBundle(harness, `b-${id}`, ['echo', 'hello']);
      const out = join(harness.dir, 'short.out');
      const stdout = openSync(out, 'w');
      const create = spawn(harness.wrapper, ['create', '--bundle', bundle, id], { stdio: ['ignore', stdout, 'inherit'] });
      const created = await new Promise<number | null>((resolve) => create.once('exit', resolve));
      closeSync(stdout);
      assert.equal(created, 0);
      const started = harness.run(['start', id]);
      assert.equal(started.code, 0, started.stderr);
      for (let i = 0; i < 100 && !readFileSync(out, 'utf8').includes('hello'); i++) await sleep(20);
      assert.equal(readFileSync(out, 'utf8'), 'hello\n', "the box wrote on create's stdout");
    });
  });

  describe('hooks at their moments (item 4)', () => {
    it('runs each kind where and when the spec says, with the state on stdin', () => {
      const log = join(harness.dir, 'hooks-moments.log');
      const hostMnt = readlinkSync('/proc/self/ns/mnt');
      const record = (script: string) => ({
        path: '/bin/sh',
        args: [
          'sh',
          '-c',
          `read -r state; pid=$(echo "$state" | sed 's/.*"pid":\\([0-9]*\\).*/\\1/'); status=$(echo "$state" | sed 's/.*"status":"\\([a-z]*\\)".*/\\1/'); ${script}`,
        ],
      });
      const hostLog = (kind: string, extra: string) => record(`echo "${kind} $status ${extra}" >> ${log}`);
      const out = runBox(
        'hook-moments',
        ['echo', 'user process'],
        (config) => {
          config.hooks = {
            prestart: [hostLog('prestart', 'path=$PATH')],
            createRuntime: [hostLog('createRuntime', 'own-mnt=$(readlink /proc/self/ns/mnt) box-mnt=$(readlink /proc/$pid/ns/mnt)')],
            // In the box's namespaces, before pivot_root: the host's tree is still there.
            createContainer: [hostLog('createContainer', 'own-mnt=$(readlink /proc/self/ns/mnt) host-tree=$(test -d ' + dir + ' && echo seen)')],
            // In the box, after start: the host's tree is gone; it writes on the box's stdout.
            startContainer: [record(`echo "startContainer $status host-tree=$(test -d ${dir} && echo seen || echo gone)"`)],
            poststart: [hostLog('poststart', '')],
            poststop: [hostLog('poststop', '')],
          };
        },
        { env: { PATH: `/nsbox-test-path:${process.env.PATH}` } },
      );
      assert.deepEqual(lines(out), ['startContainer created host-tree=gone', 'user process'], 'startContainer ran before the user process, inside the box');
      const entries = lines(readFileSync(log, 'utf8'));
      assert.deepEqual(
        entries.map((line) => line.split(' ').slice(0, 2).join(' ')),
        ['prestart creating', 'createRuntime creating', 'createContainer created', 'poststart running', 'poststop stopped'],
      );
      assert.match(entries[0] ?? '', /path=\/nsbox-test-path:/, "prestart has the runtime's PATH");
      const runtime = /own-mnt=(\S+) box-mnt=(\S+)/.exec(entries[1] ?? '');
      assert.ok(runtime && runtime[1] === hostMnt && runtime[2] !== hostMnt, `createRuntime runs on the host once the box's namespaces exist: ${entries[1]}`);
      const container = /own-mnt=(\S+) host-tree=(\S*)/.exec(entries[2] ?? '');
      assert.ok(
        container && container[1] !== hostMnt && container[2] === 'seen',
        `createContainer runs in the box's mount namespace before pivot_root: ${entries[2]}`,
      );
    });

    it('logs a failing poststart hook and goes on, as the spec words it (runc fails start instead)', () => {
      ids.push('hook-poststart');
      const bundle = makeBundle(harness, 'b-hook-poststart', ['echo', 'ran'], (config) => {
        config.hooks = { poststart: [{ path: '/bin/false' }] };
      });
      const result = harness.run(['run', '--bundle', bundle, 'hook-poststart']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'ran\n');
      assert.match(result.stderr, /error running poststart hook #0 \(\/bin\/false\): exit status 1/);
      // poststop too: the box is gone already, the failure is a warning (runtime spec: "log a warning").
      ids.push('hook-poststop');
      const poststop = makeBundle(harness, 'b-hook-poststop', ['echo', 'ran'], (config) => {
        config.hooks = { poststop: [{ path: '/bin/false' }] };
      });
      const stopped = harness.run(['run', '--bundle', poststop, 'hook-poststop']);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.stdout, 'ran\n');
      assert.match(stopped.stderr, /error running poststop hook #0 \(\/bin\/false\): exit status 1/);
      assert.equal(harness.run(['state', 'hook-poststop']).code, 1, 'the box was deleted all the same');
      const slow = makeBundle(harness, 'b-hook-slow', ['echo', 'never'], (config) => {
        config.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] };
      });
      ids.push('hook-slow');
      const started = Date.now();
      const timedOut = harness.run(['create', '--bundle', slow, 'hook-slow']);
      assert.equal(timedOut.code, 1);
      assert.match(timedOut.stderr, /error running createRuntime hook #0 \(\/bin\/sleep\): timed out after 1 s/);
      assert.ok(Date.now() - started < 20_000, 'the hook was killed at its timeout');
      const failing = makeBundle(harness, 'b-hook-start', ['echo', 'never'], (config) => {
        config.hooks = { startContainer: [{ path: '/bin/false' }] };
      });
      ids.push('hook-start');
      const refused = harness.run(['run', '--bundle', failing, 'hook-start']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /error running startContainer hook #0 \(\/bin\/false\): exit status 1/);
      assert.equal(refused.stdout, '', 'the user process did not run');
    });
  });
});
