/**
 * Issue 10, holes 3, 5, 8 and parts of 2 and 10, in real boxes, each with its negative
 * control (the same attempt where the protection is switched off, or on the host):
 *
 * - setuid files the box's root makes in an idmapped bind or its idmapped rootfs raise no
 *   host user who runs them through the box's tree (nosuid, set on the host side), unless
 *   the host settings allow it; a rootfs or bind source other host users can reach is refused;
 * - device nodes planted in the rootfs do not open (nodev; the console is off the allowlist);
 * - TIOCSTI is refused by the default seccomp profile;
 * - real-time scheduling is refused, in a default and in a privileged box;
 * - a box confined to an IP address gets no raw, ping or packet socket.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyPlugin, definePlugin, injectable, type LifecycleHooks, NsboxError } from '@nsbox/core';
import { networkPlugin } from '@nsbox/plugin-network';
import { createCgroupDriver, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { contributeLaunch } from '@nsbox/runtime-api';
import { Cleanup, makeTempDir, requireRoot } from '@nsbox/testkit';
import { type IsolationHost, inBox, makeRootfs, openIsolationHost, testCgroupParent } from './box-kit.js';

const here = dirname(fileURLToPath(import.meta.url));

function compileProbe(dir: string): string {
  const out = join(dir, 'probe');
  execFileSync('gcc', ['-static', '-O1', '-o', out, join(here, 'hardening', 'probe.c')], { stdio: 'pipe' });
  return out;
}

/** Strips the rootfs's mount attributes from boxes named `strip-*`: the nodev layer switched off, to show the next one. */
@injectable()
class StripRootfsOptions implements LifecycleHooks {
  spec(context: Parameters<NonNullable<LifecycleHooks['spec']>>[0]): void {
    if (context.box.name.startsWith('strip-')) contributeLaunch(context.spec, { rootfsOptions: [] });
  }
}
const stripPlugin = definePlugin({
  name: 'test-strip-rootfs-options',
  version: '1.0.0',
  core: '^1.0.0',
  requires: { isolation: '*' },
  hooks: StripRootfsOptions,
});

interface TestHost {
  kit: IsolationHost;
  cgroupParent: string;
}

/** A host whose host.json carries `settings.isolation`. */
async function hostWith(cleanup: Cleanup, settings: Record<string, unknown>, plugins: AnyPlugin[] = []): Promise<TestHost> {
  const stateDir = makeTempDir(cleanup, 'state');
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ settings: { isolation: settings } }));
  const cgroupParent = testCgroupParent(cleanup);
  return { kit: await openIsolationHost(cleanup, { cgroupParent, stateDir, plugins }), cgroupParent };
}

async function boot(host: TestHost, name: string, rootfs: string, config: Record<string, unknown> = {}): Promise<void> {
  await host.kit.host.manager.create({ name, config: { rootfs, process: { args: ['/bin/sleep', '100000'] }, ...config } });
  await host.kit.host.manager.start(name);
}

const probe = async (host: TestHost, box: string, ...args: string[]) => {
  const result = await inBox(host.kit, box, ['/attack', ...args]);
  return (result.stdout.split('\n')[0] ?? '').trim() || `no output (exit ${result.exitCode}, ${result.stderr.trim()})`;
};

const initPid = (host: TestHost, box: string) => (host.kit.host.manager.get(box).runtime as LinuxRuntimeFacts).init?.pid as number;

/** A host process as user nobody (no capabilities, no groups), in the box's mount namespace only, running `file euid`. */
function nobodyThroughTheBox(host: TestHost, box: string, file: string): string {
  const result = spawnSync('nsenter', [`--mount=/proc/${initPid(host, box)}/ns/mnt`, '--setuid=65534', '--setgid=65534', file, 'euid'], {
    encoding: 'utf8',
  });
  return `${result.stdout.trim()}${result.stderr.trim()}`;
}

/** A 0700 directory (closed to other users) holding `name`, for a bind source. */
function closedDir(cleanup: Cleanup, name: string): string {
  const source = join(makeTempDir(cleanup, name), name);
  mkdirSync(source);
  return source;
}

const plantSetuid = (host: TestHost, box: string, path: string) =>
  inBox(host.kit, box, `cp /attack ${path} && chmod 4755 ${path} && echo planted`).then((result) => result.stdout.trim() + result.stderr.trim());

describe('isolation hardening: setuid files, device nodes, TIOCSTI, real-time, raw sockets', function () {
  this.timeout(240_000);
  const cleanup = new Cleanup();
  let plain: TestHost;
  let setuidHost: TestHost;
  let probeBinary: string;
  const rootfs: Record<string, string> = {};
  const hostDisk = statSync('/').dev;

  before(async function () {
    requireRoot(this, 'the hardening tests');
    probeBinary = compileProbe(makeTempDir(cleanup, 'probe'));
    for (const name of ['plain', 'strip-console', 'strip-nodev', 'setuid', 'unconfined', 'priv', 'priv-free', 'confined', 'open-net']) {
      rootfs[name] = makeRootfs(cleanup, probeBinary);
    }
    for (const name of ['plain', 'strip-console', 'strip-nodev']) {
      // Planted outside nsbox's /dev: the host console, /dev/mem's number, the host's root disk.
      const dir = join(rootfs[name] as string, 'planted');
      mkdirSync(dir);
      execFileSync('mknod', [join(dir, 'console'), 'c', '5', '1']);
      execFileSync('mknod', [join(dir, 'mem'), 'c', '1', '1']);
      execFileSync('mknod', [join(dir, 'disk'), 'b', String(Math.floor(hostDisk / 256) & 0xfff), String(hostDisk & 0xff)]);
    }
    plain = await hostWith(cleanup, {}, [stripPlugin as AnyPlugin, networkPlugin as AnyPlugin]);
    setuidHost = await hostWith(cleanup, { setuidInIdmappedMounts: true });
    const bind = (source: string) => ({ isolation: { mounts: [{ source, destination: '/data', idmap: true }] } });
    await boot(plain, 'plain', rootfs.plain as string, bind(closedDir(cleanup, 'plain-data')));
    await boot(setuidHost, 'setuid', rootfs.setuid as string, bind(closedDir(cleanup, 'setuid-data')));
    await boot(plain, 'strip-nodev', rootfs['strip-nodev'] as string);
    await boot(plain, 'strip-console', rootfs['strip-console'] as string, { isolation: { devices: [{ type: 'c', major: 5, minor: 1, access: 'rw' }] } });
    await boot(plain, 'unconfined', rootfs.unconfined as string, { isolation: { seccomp: { profile: 'unconfined' } } });
    const privileged = { privileged: true, capabilities: { add: ['SYS_NICE'] } };
    await boot(plain, 'priv', rootfs.priv as string, { isolation: privileged });
    await boot(plain, 'priv-free', rootfs['priv-free'] as string, { isolation: { ...privileged, seccomp: { profile: 'unconfined' } } });
    const hostNet = { privileged: true, namespaces: { network: 'host' }, capabilities: { add: ['NET_RAW'] } };
    await boot(plain, 'confined', rootfs.confined as string, { isolation: hostNet, network: { mode: 'shared', ip: ['127.0.0.1'] } });
    await boot(plain, 'open-net', rootfs['open-net'] as string, { isolation: hostNet });
  });

  after(async () => {
    const failures = await cleanup.run();
    if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
  });

  describe('hole 3: setuid-root files made through idmapped mounts', () => {
    it("raise no host user who runs them through the box's tree, in the rootfs and in an idmapped bind; with the host opt-in they do", async () => {
      for (const [host, box] of [
        [plain, 'plain'],
        [setuidHost, 'setuid'],
      ] as const) {
        assert.equal(await plantSetuid(host, box, '/x'), 'planted');
        assert.equal(await plantSetuid(host, box, '/data/x'), 'planted');
        const onDisk = statSync(join(rootfs[box] as string, 'x'));
        assert.deepEqual([onDisk.uid, onDisk.mode & 0o4000], [0, 0o4000], 'on disk: host root, setuid');
      }
      // The host user, in the box's mount namespace, runs the file through the box's own tree.
      assert.equal(nobodyThroughTheBox(plain, 'plain', '/x'), 'ok 65534', 'the idmapped rootfs is nosuid');
      assert.equal(nobodyThroughTheBox(plain, 'plain', '/data/x'), 'ok 65534', 'the idmapped bind is nosuid');
      // Negative control: the admin's opt-in lifts nosuid, and the same file makes nobody the
      // box's root — through the idmap, the file's owner there is the box's root host uid
      // (the first of its range), with which nobody could signal, trace and write the box.
      const boxRoot = /^\s*0\s+(\d+)/.exec(readFileSync(`/proc/${initPid(setuidHost, 'setuid')}/uid_map`, 'utf8'))?.[1];
      assert.ok(boxRoot && boxRoot !== '0');
      assert.equal(nobodyThroughTheBox(setuidHost, 'setuid', '/x'), `ok ${boxRoot}`);
      assert.equal(nobodyThroughTheBox(setuidHost, 'setuid', '/data/x'), `ok ${boxRoot}`);
    });

    it('refuses a rootfs or a writable bind source that other host users can reach, naming the field; the host may allow it', async () => {
      const open = makeTempDir(cleanup, 'open');
      chmodSync(open, 0o755);
      const source = join(open, 'data');
      mkdirSync(source);
      const reachableRootfs = makeRootfs(cleanup, probeBinary);
      chmodSync(dirname(reachableRootfs), 0o755);
      const attempts: [Record<string, unknown>, string][] = [
        [{ rootfs: reachableRootfs }, 'rootfs'],
        [{ rootfs: rootfs.plain, isolation: { mounts: [{ source, destination: '/data', idmap: true }] } }, 'isolation.mounts[0].source'],
        [{ rootfs: rootfs.plain, isolation: { mounts: [{ source, destination: '/data' }] } }, 'isolation.mounts[0].source'],
      ];
      for (const [config, field] of attempts) {
        await assert.rejects(plain.kit.host.manager.create({ name: 'reach', config: { process: { args: ['/bin/true'] }, ...config } }), (error: NsboxError) => {
          assert.ok(error instanceof NsboxError);
          assert.equal(error.code, 'E_INVALID_CONFIG');
          assert.equal((error.details as { field?: string }).field, field);
          assert.match(
            error.message,
            new RegExp(
              `^${field.replace(/[[\]().]/g, '\\$&')}: .* is reachable by other host users \\('${open}' \\(mode 0755\\)|no directory above it is closed`,
            ),
          );
          return true;
        });
        assert.equal(
          plain.kit.host.manager.list().some((box) => box.name === 'reach'),
          false,
          'nothing half-created',
        );
      }
      // A read-only bind plants nothing: it may come from anywhere.
      await plain.kit.host.manager.create({
        name: 'reach-ro',
        config: { rootfs: rootfs.plain, isolation: { mounts: [{ source, destination: '/data', options: ['ro'] }] } },
      });

      // Negative control: where the host allows it, the box's setuid file is host root for
      // every host user through the host's own path — nosuid on the box's mount cannot help there.
      const lenient = await hostWith(cleanup, { reachableSources: true });
      await boot(lenient, 'reach', makeRootfs(cleanup, probeBinary), { isolation: { mounts: [{ source, destination: '/data', idmap: true }] } });
      assert.equal(await plantSetuid(lenient, 'reach', '/data/x'), 'planted');
      const direct = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(source, 'x'), 'euid'], { encoding: 'utf8' });
      assert.equal(direct.stdout.trim(), 'ok 0', direct.stderr);
      await lenient.kit.host.manager.destroy('reach', { force: true });
    });
  });

  describe('hole 5: device nodes in the rootfs', () => {
    it('do not open: the rootfs is nodev, and the console is off the allowlist', async () => {
      for (const node of ['console', 'mem', 'disk']) assert.equal(await probe(plain, 'plain', 'open', `/planted/${node}`), 'err EACCES', node);
      // nodev switched off: the device allowlist (cgroup) is the next layer, and 5:1 is no longer on it.
      for (const node of ['console', 'mem', 'disk']) assert.equal(await probe(plain, 'strip-nodev', 'open', `/planted/${node}`), 'err EPERM', node);
      // Negative control: without nodev and with 5:1 allowed (as it was), the box opens the host console.
      assert.equal(await probe(plain, 'strip-console', 'open', '/planted/console'), 'ok');
      assert.equal(await probe(plain, 'plain', 'open', '/dev/null'), 'ok', "nsbox's own /dev works");
    });
  });

  describe('hole 2 (defence in depth): TIOCSTI', () => {
    it('fails with EPERM on a pty the box owns under the default profile, and works unconfined', async () => {
      assert.equal(await probe(plain, 'plain', 'tiocsti'), 'err EPERM');
      assert.equal(await probe(plain, 'unconfined', 'tiocsti'), 'ok', 'the kernel itself allows it (dev.tty.legacy_tiocsti)');
    });
  });

  describe('hole 8: real-time scheduling', () => {
    /** A box cgroup (and its parent) given real-time runtime, so that only seccomp can refuse. */
    function giveRealtimeBudget(host: TestHost, box: string): void {
      const dirs = createCgroupDriver({ parent: host.cgroupParent }).get(host.kit.host.manager.get(box).id)?.v1Dirs;
      const cpu = dirs?.cpu;
      if (!cpu) return; // no v1 cpu controller: no group real-time budget to give
      writeFileSync(join(dirname(cpu), 'cpu.rt_runtime_us'), '20000');
      writeFileSync(join(cpu, 'cpu.rt_runtime_us'), '10000');
    }

    it('is refused in a default and in a privileged box, and works on the host and in a privileged box without seccomp', async () => {
      assert.equal(spawnSync(probeBinary, ['sched-fifo'], { encoding: 'utf8' }).stdout.trim(), 'ok', 'the host may');
      for (const box of ['priv', 'priv-free']) giveRealtimeBudget(plain, box);
      for (const call of ['sched-fifo', 'sched-attr']) {
        assert.equal(await probe(plain, 'plain', call), 'err EPERM', `${call}, default box`);
        assert.equal(await probe(plain, 'priv', call), 'err EPERM', `${call}, privileged box`);
        assert.equal(await probe(plain, 'priv-free', call), 'ok', `${call}: CAP_SYS_NICE and a budget, seccomp unconfined`);
      }
      // The default box without seccomp: the kernel checks RLIMIT_RTPRIO for it (no host capability).
      const rtprio = /^Max realtime priority\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
      assert.equal(await probe(plain, 'unconfined', 'sched-fifo'), rtprio === '0' ? 'err EPERM' : 'ok', `RLIMIT_RTPRIO ${rtprio}`);
    });
  });

  describe('hole 10: IP confinement and raw, ping and packet sockets', () => {
    const pingGroups = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).map(Number);
    const rootMayPing = (pingGroups[0] as number) <= 0 && 0 <= (pingGroups[1] as number);

    it('refuses them in a confined box and leaves them to the kernel without confinement', async () => {
      const raw = ['socket', '2', '3', '1'];
      const raw6 = ['socket', '10', '3', '58'];
      const ping = ['socket', '2', '2', '1'];
      const packet = ['socket', '17', '3', '768'];
      for (const args of [raw, raw6, ping, packet]) assert.equal(await probe(plain, 'confined', ...args), 'err EPERM', args.join(' '));
      assert.equal(await probe(plain, 'open-net', ...raw), 'ok');
      assert.equal(await probe(plain, 'open-net', ...raw6), 'ok');
      assert.equal(await probe(plain, 'open-net', ...packet), 'ok');
      assert.equal(await probe(plain, 'open-net', ...ping), rootMayPing ? 'ok' : 'err EACCES', `ping_group_range ${pingGroups.join(' ')}`);
      assert.equal(await probe(plain, 'confined', 'socket', '2', '1', '0'), 'ok', 'TCP');
      assert.equal(await probe(plain, 'confined', 'socket', '2', '2', '0'), 'ok', 'UDP');
    });

    it('refuses IP confinement without the default seccomp profile: the box does not start', async () => {
      await plain.kit.host.manager.create({
        name: 'confined-unfiltered',
        config: {
          rootfs: rootfs.confined,
          process: { args: ['/bin/sleep', '100000'] },
          isolation: { namespaces: { network: 'host' }, seccomp: { profile: 'unconfined' } },
          network: { mode: 'shared', ip: ['127.0.0.1'] },
        },
      });
      await assert.rejects(plain.kit.host.manager.start('confined-unfiltered'), (error: NsboxError) => {
        assert.equal(error.details.field, 'network.mode');
        assert.match(error.message, /seccomp allowlist/);
        return true;
      });
      assert.equal(plain.kit.host.manager.get('confined-unfiltered').state, 'created', 'it never ran');
      await plain.kit.host.manager.destroy('confined-unfiltered', { force: true });
    });
  });
});
