/**
 * The Linux driver through the library API (what an embedding panel calls): lifecycle,
 * exec, pause, reconcile after an init died unwatched, and specs the kernel refuses.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definePlugin, type HookContext, type NsboxError, type OciIdMapping } from '@nsbox/core';
import { MNT_DETACH, native } from '@nsbox/native';
import { runtimeRefs } from '@nsbox/runtime-api';
import { buildBusyboxRootfs, chownTree, createTestHost, makeTempDir, requireRoot, snapshotHost, useCleanup } from '@nsbox/testkit';
import { createCgroupDriver } from '../src/cgroup/index.js';
import { execInBox } from '../src/exec.js';
import { LinuxBoxDriver, type LinuxRuntimeFacts } from '../src/linux-driver.js';
import { waitUntil } from '../src/process-identity.js';

/** A test plugin that puts the box in a user namespace with the given maps (isolation's job later). */
function userNamespacePlugin(uidMappings: OciIdMapping[]) {
  class Hooks {
    spec(context: HookContext) {
      context.spec.linux.namespaces.push({ type: 'user' });
      context.spec.linux.uidMappings = uidMappings;
      context.spec.linux.gidMappings = uidMappings;
    }
  }
  return definePlugin({ name: 'test-userns', version: '1.0.0', core: '^1.0.0', hooks: Hooks });
}

describe('the Linux box driver through the library API', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let cgroupParent: string;
  let rootfs: string;
  const marker = `nsbox-marker-${randomBytes(3).toString('hex')}`;

  before(function () {
    requireRoot(this, 'running boxes');
  });

  beforeEach(() => {
    cgroupParent = `nsbox-test-${randomBytes(4).toString('hex')}`;
    rootfs = buildBusyboxRootfs(join(makeTempDir(cleanup, 'rootfs'), 'rootfs'));
    const parent = cgroupParent;
    cleanup.add('remove test cgroups', async () => {
      const cgroups = createCgroupDriver({ parent });
      for (const name of cgroups.list()) await cgroups.remove(name);
      await cgroups.removeParent?.();
    });
  });

  async function openTestHost(plugins = [] as ReturnType<typeof userNamespacePlugin>[], stateDir?: string) {
    const host = await createTestHost(cleanup, {
      plugins,
      ...(stateDir ? { stateDir } : {}),
      driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
    });
    cleanup.add('destroy boxes', async () => {
      if (!host.store.db.open) return; // a test closed this host itself; a later one cleans up
      for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
    });
    return host;
  }

  it('runs configure once the cgroup exists and wire once the box is built but before its init runs', async () => {
    const seen: string[] = [];
    const wirePlugin = definePlugin({
      name: 'test-wire',
      version: '1.0.0',
      core: '^1.0.0',
      setup: ({ services }) => ({
        hooks: {
          configure: (context) => {
            const driver = services.get(runtimeRefs.cgroups);
            seen.push(`configure cgroup=${driver.get(context.box.id) !== undefined} pids=${driver.pids(context.box.id).length}`);
          },
          wire: (context) => {
            const init = (context.box.runtime as LinuxRuntimeFacts).init as { pid: number };
            // The init is in its namespaces (its own pid namespace exists) and has not exec'd:
            // a file put into its root now is there when its program starts.
            seen.push(`wire pidns=${readlinkSync(`/proc/${init.pid}/ns/pid`) !== readlinkSync('/proc/self/ns/pid')}`);
            writeFileSync(join(rootfs, 'wired'), 'wired before init\n');
          },
        },
      }),
    });
    const host = await openTestHost([wirePlugin]);
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'wire1', config: { rootfs, process: { args: ['/bin/sh', '-c', 'cat /wired; sleep 1000'] } } });
    const box = await host.manager.start('wire1');
    assert.deepEqual(seen, ['configure cgroup=true pids=0', 'wire pidns=true']);
    assert.ok(await waitUntil(() => driver.logs(box).includes('wired before init'), 5000), `the init read what wire wrote: ${driver.logs(box)}`);
    assert.equal(existsSync(join(driver.files(box).dir, 'start.sock')), false, 'the hold socket is gone once the init runs');
  });

  it('creates, starts, execs, pauses, resumes, stops and destroys a box', async () => {
    const host = await openTestHost();
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'lib1', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const box = await host.manager.start('lib1');
    const init = (box.runtime as LinuxRuntimeFacts).init;
    assert.ok(init && existsSync(`/proc/${init.pid}`));
    assert.ok(driver.cgroups.pids(box.id).includes(init.pid), "init is in the box's cgroup");

    const exec = await execInBox(driver, box, { args: ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; hostname; ls /proc | grep -c "^[0-9]"'] });
    assert.equal(exec.exitCode, 0, exec.stderr);
    const [cmdline, hostname, processes] = exec.stdout.trim().split('\n');
    assert.equal(cmdline?.trim(), '/bin/sleep 1000');
    assert.equal(hostname, 'lib1');
    assert.ok(Number(processes) <= 4, `the box sees only its own processes, saw ${processes}`);

    await host.manager.pause('lib1');
    assert.match((await import('node:fs')).readFileSync(`/proc/${init.pid}/status`, 'utf8'), /State:\s+[ST]/);
    await host.manager.resume('lib1');
    const stopped = await host.manager.stop('lib1', { timeoutMs: 500 });
    assert.equal(stopped.state, 'stopped');
    assert.equal(existsSync(`/proc/${init.pid}`), false);
    assert.equal(driver.cgroups.get(box.id), undefined, 'stop removes the cgroup');
    await host.manager.destroy('lib1');
    assert.equal(existsSync(driver.files(box).dir), false);
    assert.equal(existsSync(rootfs), true, 'a rootfs given by the admin is left in place');
  });

  it('runs a user-namespaced box whose root is an unprivileged host uid', async () => {
    chownTree(rootfs, 200000, 200000);
    chmodSync(dirname(rootfs), 0o755); // the box's root (host uid 200000) must reach its rootfs
    const host = await openTestHost([userNamespacePlugin([{ containerID: 0, hostID: 200000, size: 65536 }])]);
    await host.manager.create({ name: 'userns', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const box = await host.manager.start('userns');
    const exec = await execInBox(host.driver as LinuxBoxDriver, box, { args: ['sh', '-c', 'id -u; cat /proc/self/uid_map'] });
    assert.equal(exec.exitCode, 0, exec.stderr);
    assert.match(exec.stdout, /^0\n\s+0\s+200000\s+65536\n$/);
    const init = (box.runtime as LinuxRuntimeFacts).init as { pid: number };
    assert.match((await import('node:fs')).readFileSync(`/proc/${init.pid}/status`, 'utf8'), /Uid:\s+200000\s/);
  });

  it('has only the box’s init in its cgroup once start returns: the launcher that made it is gone, not a second task for a moment', async () => {
    const host = await openTestHost([]);
    const { cgroups } = host.driver as LinuxBoxDriver;
    const seen: number[][] = [];
    for (let index = 0; index < 12; index++) {
      await host.manager.create({ name: `lone${index}`, config: { rootfs, process: { args: ['/bin/sleep', marker] } } });
      const box = await host.manager.start(`lone${index}`);
      const init = (box.runtime as LinuxRuntimeFacts).init as { pid: number };
      seen.push(cgroups.pids(box.id).filter((pid) => pid !== init.pid));
      await host.manager.destroy(box.id, { force: true });
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 12 }, () => []),
      'no task but the init in the box cgroup',
    );
  });

  it('refuses a rootfs that is not there as nsboxd does (E_INVALID_CONFIG naming the field), leaving no box', async () => {
    const host = await openTestHost([]);
    const missing = join(host.stateDir, 'no-such-rootfs');
    await assert.rejects(host.manager.create({ name: 'norootfs', config: { rootfs: missing, process: { args: ['/bin/true'] } } }), (error: NsboxError) => {
      assert.deepEqual([error.code, error.details.field], ['E_INVALID_CONFIG', 'rootfs']);
      assert.match(error.message, /no-such-rootfs does not exist or is not a directory/);
      return true;
    });
    assert.throws(
      () => host.manager.get('norootfs'),
      (error: NsboxError) => error.code === 'E_NOT_FOUND',
    );
  });

  it('refuses a uid map that does not fit, leaving nothing behind', async () => {
    const host = await openTestHost([userNamespacePlugin([{ containerID: 0, hostID: 4294967000, size: 65536 }])]);
    await host.manager.create({ name: 'badmap', config: { rootfs, process: { args: ['/bin/sleep', marker] } } });
    const before = snapshotHost({ cgroupParent, marker, ownDirs: [host.stateDir, rootfs] });
    await assert.rejects(host.manager.start('badmap'), (error: NsboxError) => {
      assert.equal(error.code, 'E_INVALID_CONFIG');
      assert.match(error.message, /uid mapping .* does not fit/);
      return true;
    });
    assert.deepEqual(snapshotHost({ cgroupParent, marker, ownDirs: [host.stateDir, rootfs] }), before);
    assert.equal(host.manager.get('badmap').state, 'created');
  });

  it('reports a map the kernel refuses with its step, leaving nothing behind', async () => {
    const host = await openTestHost([
      userNamespacePlugin([
        { containerID: 0, hostID: 300000, size: 1000 },
        { containerID: 500, hostID: 400000, size: 1000 },
      ]),
    ]);
    await host.manager.create({ name: 'overlap', config: { rootfs, process: { args: ['/bin/sleep', marker] } } });
    const before = snapshotHost({ cgroupParent, marker, ownDirs: [host.stateDir, rootfs] });
    await assert.rejects(host.manager.start('overlap'), /box did not start: (uidmap|handshake)/);
    assert.deepEqual(snapshotHost({ cgroupParent, marker, ownDirs: [host.stateDir, rootfs] }), before);
  });

  it('marks a box whose init died while no host process ran as stopped, with its status', async () => {
    const stateDir = makeTempDir(cleanup, 'state');
    let host = await openTestHost([], stateDir);
    await host.manager.create({ name: 'orphan', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const box = await host.manager.start('orphan');
    host.close();
    const init = (box.runtime as LinuxRuntimeFacts).init as { pid: number };
    process.kill(init.pid, 'SIGKILL');
    const driver = new LinuxBoxDriver({ stateDir, cgroupParent });
    assert.ok(await waitUntil(() => driver.exit(box) !== undefined, 5_000), 'the shim records the exit');

    host = await openTestHost([], stateDir);
    await host.manager.reconcile();
    const after = host.manager.get('orphan');
    assert.equal(after.state, 'stopped');
    assert.deepEqual((after.runtime as { exit?: unknown }).exit, { state: 'stopped', signal: 9 });
    assert.equal(host.manager.history({ boxId: box.id, kind: 'state.stopped' }).length, 1);
  });

  it('removes, on reconcile, the cgroup a crashed start left behind for a box that is not running', async () => {
    const host = await openTestHost();
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'crashed', config: { rootfs, process: { args: ['/bin/true'] } } });
    const box = host.manager.get('crashed');
    driver.cgroups.create(box.id); // what a start killed after creating the cgroup leaves
    assert.ok(driver.cgroups.get(box.id));
    await host.manager.reconcile();
    assert.equal(driver.cgroups.get(box.id), undefined);
    assert.equal(host.manager.get('crashed').state, 'created');
  });

  it('applies namespaced sysctls before /proc/sys turns read-only', async () => {
    class SysctlHooks {
      spec(context: HookContext) {
        context.spec.linux.sysctl = { 'net.ipv4.ping_group_range': '0 0', 'kernel.domainname': 'box.test' };
      }
    }
    const host = await openTestHost([definePlugin({ name: 'test-sysctl', version: '1.0.0', core: '^1.0.0', hooks: SysctlHooks })]);
    await host.manager.create({ name: 'sysctl', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const box = await host.manager.start('sysctl');
    const exec = await execInBox(host.driver as LinuxBoxDriver, box, {
      args: ['sh', '-c', 'cat /proc/sys/net/ipv4/ping_group_range /proc/sys/kernel/domainname; echo 1 > /proc/sys/kernel/domainname'],
    });
    assert.match(exec.stdout, /^0\s+0\nbox\.test\n$/);
    assert.notEqual(exec.exitCode, 0, '/proc/sys is read-only afterwards');
  });

  it('leaves alone, on reconcile, the cgroup of a box another live process is starting', async () => {
    const host = await openTestHost();
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'busy', config: { rootfs, process: { args: ['/bin/true'] } } });
    const box = host.manager.get('busy');
    // What a start running in another process looks like from here: its journal entry, the
    // transitional state, the cgroup it just made.
    host.store.begin({ boxId: box.id, kind: 'start', fromState: 'created', pid: process.ppid });
    host.store.update({ ...box, state: 'starting' });
    driver.cgroups.create(box.id);
    await host.manager.reconcile();
    assert.ok(driver.cgroups.get(box.id), 'the cgroup of a start in progress stays');
    assert.equal(host.manager.get('busy').state, 'starting');
  });

  it('destroys a box without deleting through a mount left in its directory, and names that mount', async () => {
    const host = await openTestHost();
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'mounted', config: { rootfs, process: { args: ['/bin/true'] } } });
    const box = host.manager.get('mounted');
    const outside = makeTempDir(cleanup, 'outside');
    writeFileSync(join(outside, 'marker'), 'kept');
    const point = join(driver.files(box).dir, 'left-mounted');
    mkdirSync(point);
    execFileSync('mount', ['--bind', outside, point]);
    cleanup.add('unmount the bind', () => {
      if (existsSync(point) && native().isMountpoint(point)) native().umount(point, MNT_DETACH);
    });
    await assert.rejects(host.manager.destroy(box.id), (error: Error) => error.message.includes(point));
    assert.equal(readFileSync(join(outside, 'marker'), 'utf8'), 'kept', 'nothing was deleted through the bind');
    native().umount(point, MNT_DETACH);
    await host.manager.destroy(box.id, { force: true });
    assert.equal(existsSync(driver.files(box).dir), false, 'once unmounted, destroy removes the whole directory');
    assert.equal(readFileSync(join(outside, 'marker'), 'utf8'), 'kept');
  });

  it("gives a box with a terminal that pty as /dev/console, and a box without one no /dev/console (never the host's 5:1)", async () => {
    const host = await openTestHost();
    const driver = host.driver as LinuxBoxDriver;
    await host.manager.create({ name: 'console', config: { rootfs, process: { args: ['/bin/sleep', '1000'], terminal: true } } });
    const box = await host.manager.start('console');
    const init = (box.runtime as LinuxRuntimeFacts).init;
    assert.ok(init);
    const terminal = statSync(`/proc/${init.pid}/fd/0`).rdev;
    const console = await execInBox(driver, box, { args: ['stat', '-c', '%t:%T', '/dev/console'] });
    assert.equal(console.exitCode, 0, console.stderr);
    const [major, minor] = console.stdout
      .trim()
      .split(':')
      .map((hex) => Number.parseInt(hex, 16));
    assert.notDeepEqual([major, minor], [5, 1], "not the host's system console");
    assert.equal(major, Math.floor(terminal / 256) & 0xfff, "the box's own pty (its init's stdin)");
    assert.equal(minor, (terminal & 0xff) | ((terminal >> 12) & 0xfff00));

    await host.manager.create({ name: 'headless', config: { rootfs, process: { args: ['/bin/sleep', '1000'] } } });
    const headless = await host.manager.start('headless');
    const probe = await execInBox(driver, headless, { args: ['sh', '-c', 'test -e /dev/console'] });
    assert.equal(probe.exitCode, 1, 'no /dev/console without a terminal');
  });
});
