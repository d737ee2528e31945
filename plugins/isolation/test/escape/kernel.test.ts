/**
 * Escapes through the kernel's privileged interfaces: modules, reboot, device nodes of the
 * host's disk and its kernel log, file handles (the "shocker" exploit), keyrings, bpf, perf,
 * userfaultfd, io_uring, nested user namespaces, cgroup v1's release_agent, and a setuid-root
 * file made through the idmapped rootfs. Each attack has its control (see escape-kit.ts).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitUntil } from '@nsbox/runtime';
import { requireRoot } from '@nsbox/testkit';
import { type Attacker, escapeSuite } from './escape-kit.js';

const marker = `nsbox-escape-${randomBytes(4).toString('hex')}`;

/** MAJOR and MINOR of a device node. */
function deviceNumbers(path: string): [string, string] {
  const dev = statSync(path, { bigint: true }).rdev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [String(major), String(minor)];
}

/** Loop devices: major 7 (this VM refuses raw reads of its real disk even to host root). */
const LOOP_MAJOR = 7;

const sysctl = (name: string) => readFileSync(`/proc/sys/${name}`, 'utf8').trim();
const unconfined = { seccomp: { profile: 'unconfined' } };

describe('escape suite: kernel interfaces', () => {
  // A host disk of the test's own: a loop device over a small image.
  let disk: { image: string; device: string } | undefined;
  let major = '';
  let minor = '';
  before(function () {
    requireRoot(this, 'the escape suite');
    const image = join(mkdtempSync(join(tmpdir(), 'nsbox-escape-disk-')), 'disk.img');
    writeFileSync(image, Buffer.alloc(1 << 20, `${marker}\n`));
    const device = spawnSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).stdout.trim();
    assert.match(device, /^\/dev\/loop\d+$/, 'a loop device for the host disk');
    disk = { image, device };
    [major, minor] = deviceNumbers(device);
  });
  after(() => {
    if (!disk) return;
    spawnSync('losetup', ['-d', disk.device]);
    rmSync(dirname(disk.image), { recursive: true, force: true });
  });
  const suite = escapeSuite({
    // Every box here is as the plugin makes it by default, but for what each one adds.
    target: {},
    privileged: { isolation: { privileged: true } },
    booter: { isolation: { capabilities: { add: ['CAP_SYS_BOOT'] } } },
    nested: { isolation: { seccomp: { allow: ['unshare'] } } },
    sysadmin: { isolation: { capabilities: { add: ['CAP_SYS_ADMIN'] } } },
    privadmin: { isolation: { privileged: true, capabilities: { add: ['CAP_SYS_ADMIN'] } } },
  });

  suite.attempt({
    class: 'kernel modules',
    title: 'load a kernel module',
    // Garbage for a module: the host's loader refuses it (ENOEXEC) after the privilege check.
    attack: (on) => on.run('init_module'),
    escaped: (line) => line !== 'err EPERM',
    control: 'host',
    notApplicable: () => (existsSync('/proc/modules') ? undefined : 'the kernel has no module support (no /proc/modules)'),
    blocked: async (line, on) => {
      assert.equal(line, 'err EPERM');
      assert.equal(await on.run('finit_module', '/attack'), 'err EPERM');
    },
  });

  suite.attempt({
    class: 'kernel modules',
    title: 'load a kernel module as host root in a privileged box',
    on: 'privileged',
    attack: (on) => on.run('init_module'),
    escaped: (line) => line !== 'err EPERM',
    control: 'host',
    notApplicable: () => (existsSync('/proc/modules') ? undefined : 'the kernel has no module support (no /proc/modules)'),
  });

  // reboot(CAD_ON/CAD_OFF) sets the host's ctrl-alt-del switch (to its current value here):
  // outside the host's pid namespace the kernel refuses it.
  const cad = () => sysctl('kernel/ctrl-alt-del');
  suite.attempt({
    class: 'reboot',
    title: 'reboot() the host',
    attack: (on) => on.run('reboot-cad', cad() === '0' ? '0' : '1'),
    control: 'host',
    blocked: async (line) => {
      assert.equal(line, 'err EPERM');
      assert.equal((await suite.kit().host.manager.sync('target')).state, 'running');
    },
  });

  suite.attempt({
    class: 'reboot',
    title: 'reboot() the host with CAP_SYS_BOOT',
    on: 'booter',
    attack: (on) => on.run('reboot-cad', cad() === '0' ? '0' : '1'),
    control: 'host',
    // In a child pid namespace only restart/halt are known, and they end the box's init.
    blocked: (line) => assert.equal(line, 'err EINVAL'),
  });

  // Not an attempt: its control would reboot this host. What the kernel does instead.
  it('reboot(RESTART) with CAP_SYS_BOOT ends only the box', async () => {
    const kit = suite.kit();
    const init = (kit.host.manager.get('booter').runtime.init as { pid: number }).pid;
    await suite
      .attacker('booter')
      .run('reboot')
      .catch(() => undefined);
    assert.ok(await waitUntil(() => !existsSync(`/proc/${init}`), 5000), "the box's init is gone");
    assert.ok(await waitUntil(() => kit.driver.exit(kit.host.manager.get('booter')) !== undefined, 5000), 'its shim recorded the exit');
    // A reboot asked from inside is honoured for the box alone: it starts again, with a new init.
    const rebooted = await kit.host.manager.sync('booter');
    assert.equal((rebooted.runtime.exit as { signal?: number }).signal, 1, 'its init ended with SIGHUP: a reboot request');
    assert.equal(rebooted.state, 'running', 'the box came back');
    assert.notEqual((rebooted.runtime.init as { pid: number }).pid, init, 'with a new init');
    assert.deepEqual(
      kit.host.manager.history({ boxId: rebooted.id, kind: 'box.restarting' }).map((event) => event.data.reason),
      ['reboot'],
    );
    assert.equal((await kit.host.manager.sync('target')).state, 'running', 'other boxes run on');
    assert.ok(readFileSync('/proc/uptime', 'utf8'), 'and so does the host');
  });

  suite.attempt({
    class: 'host disk',
    title: 'mknod a host disk in a box',
    attack: (on) => on.run('mknod', '/dev/disk', 'b', major, minor),
    control: { config: { isolation: { privileged: true } } },
    kernelBlocks: 'a user namespace makes no device node',
    blocked: (line) => assert.equal(line, 'err EPERM', 'a user namespace makes no device node'),
  });

  suite.attempt({
    class: 'host disk',
    title: 'read a host disk from a privileged box (the device allowlist)',
    on: 'privileged',
    attack: async (on) => {
      await on.run('mknod', '/dev/disk', 'b', major, minor);
      return on.run('read', '/dev/disk', '512');
    },
    control: { config: { isolation: { privileged: true, devices: [{ type: 'b', major: LOOP_MAJOR, access: 'r' }] } } },
    blocked: async (line, on) => {
      assert.equal(line, 'err EPERM');
      assert.equal(await on.run('write', '/dev/disk', 'x'), 'err EPERM');
    },
  });

  suite.attempt({
    class: 'kernel log (/dev/kmsg)',
    title: "write the host's kernel log",
    attack: async (on) => {
      await on.run('mknod', '/dev/kmsg', 'c', '1', '11');
      return on.run('write', '/dev/kmsg', `<6>${marker} from ${on.name}\n`);
    },
    control: { config: { isolation: { privileged: true, devices: [{ type: 'c', major: 1, minor: 11, access: 'rw' }] } } },
    blocked: (line) => assert.match(line, /^err (ENOENT|EPERM)$/, 'no node, and the allowlist would refuse one'),
  });

  suite.attempt({
    class: 'kernel log (/dev/kmsg)',
    title: "write the host's kernel log from a privileged box (the device allowlist)",
    on: 'privileged',
    attack: async (on) => {
      await on.run('mknod', '/dev/kmsg', 'c', '1', '11');
      return on.run('write', '/dev/kmsg', `<6>${marker} from ${on.name}\n`);
    },
    control: { config: { isolation: { privileged: true, devices: [{ type: 'c', major: 1, minor: 11, access: 'rw' }] } } },
    blocked: (line) => {
      assert.equal(line, 'err EPERM');
      const log = spawnSync('dmesg', [], { encoding: 'utf8' }).stdout;
      assert.ok(log.includes(`${marker} from control`), 'the control did reach the host log');
      assert.ok(!log.includes(`${marker} from privileged`), 'the privileged box did not');
    },
  });

  suite.attempt({
    class: 'file handles (shocker)',
    title: 'open_by_handle_at on the host filesystem from a privileged box',
    on: 'privileged',
    attack: (on) => on.run('open_by_handle_at'),
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_DAC_READ_SEARCH'] } } } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'file handles (shocker)',
    title: 'open_by_handle_at from a box in a user namespace',
    attack: (on) => on.run('open_by_handle_at'),
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_DAC_READ_SEARCH'] } } } },
    kernelBlocks: 'open_by_handle_at needs CAP_DAC_READ_SEARCH of the initial user namespace',
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'keyrings',
    title: "share host root's user keyring from a privileged box",
    on: 'privileged',
    attack: async (on) => {
      const host = spawnSync(suite.attackBinary(), ['keyring-id'], { encoding: 'utf8' }).stdout.trim();
      const line = await on.run('keyring-id');
      return { escaped: line === host, detail: `${line} (host root's: ${host})` };
    },
    control: { config: { isolation: { privileged: true, ...unconfined } } },
    blocked: (detail) => assert.match(detail, /^err EPERM/),
  });

  suite.attempt({
    class: 'keyrings',
    title: 'add a key in a box',
    attack: (on) => on.run('add_key'),
    control: { config: { isolation: unconfined } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'bpf',
    title: 'bpf() from a privileged box',
    on: 'privileged',
    attack: (on) => on.run('bpf'),
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_BPF'] } } } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'bpf',
    title: 'bpf() from a box in a user namespace',
    attack: (on) => on.run('bpf'),
    control: { config: { isolation: { privileged: true, capabilities: { add: ['CAP_BPF'] } } } },
    kernelBlocks: `unprivileged bpf is off (kernel.unprivileged_bpf_disabled=${sysctl('kernel/unprivileged_bpf_disabled')}) and CAP_BPF of a user namespace counts for nothing`,
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'perf',
    title: 'perf_event_open (user-space counting)',
    attack: (on) => on.run('perf_event_open'),
    control: { config: { isolation: unconfined } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'userfaultfd',
    title: 'userfaultfd (user-mode faults only)',
    attack: (on) => on.run('userfaultfd'),
    control: { config: { isolation: unconfined } },
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'io_uring',
    title: 'io_uring_setup',
    attack: (on) => on.run('io_uring'),
    control: { config: { isolation: unconfined } },
    notApplicable: () => (sysctl('kernel/io_uring_disabled') === '2' ? 'io_uring is disabled on this host' : undefined),
    blocked: (line) => assert.equal(line, 'err EPERM'),
  });

  suite.attempt({
    class: 'user namespaces',
    title: 'make a nested user namespace',
    attack: async (on) => {
      const clone = await on.run('clone-userns');
      return clone.startsWith('ok') ? clone : on.run('userns');
    },
    control: { config: { isolation: { seccomp: { allow: ['unshare'] } } } },
    blocked: async (line, on) => {
      assert.equal(line, 'err EPERM');
      assert.match((await on.sh('unshare -U -r id')).stderr, /Operation not permitted/);
    },
  });

  suite.attempt({
    class: 'user namespaces',
    title: 'gain host privilege as root of a nested user namespace',
    on: 'nested',
    attack: async (on) => {
      const nested = await on.sh(
        "unshare -U -r sh -c 'cat /proc/self/uid_map; grep CapEff /proc/self/status; /attack mknod /dev/x c 1 3; /attack write /proc/sys/kernel/panic 1'",
      );
      const [uidMap, capEff, mknod, panic] = nested.stdout.trim().split('\n');
      assert.match(uidMap as string, /^\s*0\s+0\s+1$/, `the nested root is the box's root: ${nested.stdout}${nested.stderr}`);
      assert.match(capEff as string, /000001ffffffffff|0000003fffffffff|000000ffffffffff/, 'with every capability inside');
      return { escaped: mknod !== 'err EPERM' || !/^err (EROFS|EACCES)$/.test(panic as string), detail: `mknod: ${mknod}; /proc/sys: ${panic}` };
    },
    kernelBlocks: "a nested user namespace's capabilities reach its own namespace only",
  });

  // A new hierarchy named for the test; the existing pids one is tried too (release_agent
  // is a file of a hierarchy's root only). On the host (the control) it works.
  const releaseAgent = async (on: Attacker) => {
    const named = await on.run('release-agent', '/tmp/cgroup', `none,name=${marker}`);
    return named.startsWith('ok') ? named : `${named}; pids: ${await on.run('release-agent', '/tmp/cgroup', 'pids')}`;
  };
  suite.attempt({
    class: 'cgroup v1 release_agent (CVE-2022-0492)',
    title: 'mount cgroup v1 and set release_agent with CAP_SYS_ADMIN in a user namespace',
    on: 'sysadmin',
    attack: releaseAgent,
    escaped: (line) => /(^|: )ok/.test(line),
    control: 'host',
    kernelBlocks: 'cgroup v1 cannot be mounted from a user namespace, and release_agent needs CAP_SYS_ADMIN of the initial one (the CVE-2022-0492 fix)',
    blocked: (line) => assert.match(line, /^err EPERM; pids: err (EPERM|ENOENT)$/),
  });

  suite.attempt({
    class: 'cgroup v1 release_agent (CVE-2022-0492)',
    title: 'mount cgroup v1 and set release_agent as host root with CAP_SYS_ADMIN (privileged box)',
    on: 'privadmin',
    attack: releaseAgent,
    escaped: (line) => /(^|: )ok/.test(line),
    control: 'host',
    // The box's cgroup namespace: no new hierarchy, and its view of one has no root files.
    blocked: (line) => assert.match(line, /^err EPERM; pids: err ENOENT$/),
  });

  suite.attempt({
    class: 'setuid through the idmapped rootfs',
    title: 'leave a setuid-root file for host users',
    attack: async (on) => {
      const made = await on.sh(`cp /attack /${marker} && chmod 4755 /${marker} && echo made`);
      assert.equal(made.stdout.trim(), 'made', made.stderr);
      const file = join(on.rootfs as string, marker);
      assert.equal(statSync(file).uid, 0, 'on disk the file is host root’s');
      assert.equal(statSync(file).mode & 0o4000, 0o4000, 'and setuid');
      // A host user (nobody): setgid, setuid (dropping every capability), then exec; as
      // root it reads /etc/shadow (0640 root:shadow).
      const user = spawnSync(file, ['read', '/etc/shadow', '1'], { encoding: 'utf8', uid: 65534, gid: 65534 });
      return { escaped: (user.stdout ?? '').startsWith('ok'), detail: user.error ? String((user.error as NodeJS.ErrnoException).code) : user.stdout.trim() };
    },
    // The control: the same box, its rootfs directory opened to other host users once it
    // runs (the plugin refuses to start a box whose rootfs they can reach).
    control: { config: {}, afterStart: (rootfs) => chmodSync(join(rootfs, '..'), 0o755) },
    blocked: (detail, on) => {
      assert.equal(detail, 'EACCES', 'an unprivileged host user cannot reach it');
      assert.equal(statSync(join(on.rootfs as string, '..')).mode & 0o077, 0, 'the rootfs parent is closed to other host users');
    },
  });
});
