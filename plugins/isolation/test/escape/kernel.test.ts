/**
 * Escapes through the kernel's privileged interfaces: modules, reboot, device nodes of the
 * host's disk, file handles (the "shocker" exploit), keyrings, bpf, perf, userfaultfd,
 * nested user namespaces, and a setuid-root file made through the idmapped rootfs.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '@nsbox/runtime';
import { requireRoot } from '@nsbox/testkit';
import { attack, inBox } from '../box-kit.js';
import { attempt, type EscapeBoxes, escapeBoxes, removeEscapeBoxes } from './escape-kit.js';

const marker = `nsbox-escape-${randomBytes(4).toString('hex')}`;

/** The host's root filesystem device, as `b MAJOR MINOR`. */
function rootDevice(): [string, string] {
  const dev = statSync('/', { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [String(major), String(minor)];
}

describe('escape suite: kernel interfaces', function () {
  this.timeout(120_000);
  let boxes: EscapeBoxes | undefined;

  before(async function () {
    requireRoot(this, 'the escape suite');
    boxes = await escapeBoxes({
      // Every box here is as the plugin makes it by default, but for what each one adds.
      target: {},
      privileged: { isolation: { privileged: true } },
      booter: { isolation: { capabilities: { add: ['CAP_SYS_BOOT'] } } },
      nested: { isolation: { seccomp: { allow: ['unshare'] } } },
    });
  });

  after(() => removeEscapeBoxes(boxes));

  const kit = () => (boxes as EscapeBoxes).kit;

  attempt('load a kernel module', async () => {
    // This kernel may have no module support at all (no /proc/modules): the filter answers first anyway.
    const modules = existsSync('/proc/modules') ? readFileSync('/proc/modules', 'utf8') : undefined;
    assert.equal(await attack(kit(), 'target', 'finit_module', '/attack'), 'err EPERM');
    assert.equal(await attack(kit(), 'target', 'init_module'), 'err EPERM');
    assert.equal(await attack(kit(), 'privileged', 'finit_module', '/attack'), 'err EPERM', 'not even as host root in a box');
    assert.equal(existsSync('/proc/modules') ? readFileSync('/proc/modules', 'utf8') : undefined, modules);
  });

  attempt('reboot() the host', async () => {
    assert.equal(await attack(kit(), 'target', 'reboot'), 'err EPERM');
    assert.equal((await kit().host.manager.sync('target')).state, 'running');
  });

  attempt('reboot() with CAP_SYS_BOOT ends only the box', async () => {
    // In a pid namespace, reboot(2) kills the namespace's init: the box, not the host.
    await inBox(kit(), 'booter', ['/attack', 'reboot']).catch(() => undefined);
    const init = (kit().host.manager.get('booter').runtime.init as { pid: number }).pid;
    assert.ok(await waitUntil(() => !existsSync(`/proc/${init}`), 5000), "the box's init is gone");
    assert.ok(await waitUntil(() => kit().driver.exit(kit().host.manager.get('booter')) !== undefined, 5000), 'its shim recorded the exit');
    assert.equal((await kit().host.manager.sync('booter')).state, 'stopped');
    const exit = kit().host.manager.get('booter').runtime.exit as { signal?: number };
    assert.equal(exit.signal, 1, 'its init ended with SIGHUP: a reboot request');
    assert.equal((await kit().host.manager.sync('target')).state, 'running', 'other boxes run on');
    assert.ok(readFileSync('/proc/uptime', 'utf8'), 'and so does the host');
  });

  attempt("mknod the host's disk and read it", async () => {
    const [major, minor] = rootDevice();
    // In a user namespace no device node can be made at all.
    assert.equal(await attack(kit(), 'target', 'mknod', '/dev/disk', 'b', major, minor), 'err EPERM');
    // A privileged box may make the node (CAP_MKNOD), but the device allowlist refuses to open it.
    assert.equal(await attack(kit(), 'privileged', 'mknod', '/dev/disk', 'b', major, minor), 'ok created');
    assert.equal(await attack(kit(), 'privileged', 'read', '/dev/disk', '512'), 'err EPERM');
    assert.equal(await attack(kit(), 'privileged', 'write', '/dev/disk', 'x'), 'err EPERM');
  });

  attempt('open_by_handle_at (the "shocker" exploit)', async () => {
    assert.equal(await attack(kit(), 'target', 'open_by_handle_at'), 'err EPERM');
    assert.equal(await attack(kit(), 'privileged', 'open_by_handle_at'), 'err EPERM', 'not even as host root in a box');
  });

  attempt('keyctl on the host keyrings', async () => {
    assert.equal(await attack(kit(), 'target', 'keyctl'), 'err EPERM');
    assert.equal(await attack(kit(), 'target', 'add_key'), 'err EPERM');
    assert.equal(await attack(kit(), 'privileged', 'add_key'), 'err EPERM');
  });

  attempt('bpf() without privilege', async () => {
    assert.equal(await attack(kit(), 'target', 'bpf'), 'err EPERM');
    assert.equal(await attack(kit(), 'privileged', 'bpf'), 'err EPERM');
  });

  attempt('perf_event_open without privilege', async () => {
    assert.equal(await attack(kit(), 'target', 'perf_event_open'), 'err EPERM');
  });

  attempt('userfaultfd without privilege', async () => {
    assert.equal(await attack(kit(), 'target', 'userfaultfd'), 'err EPERM');
  });

  attempt('gain host capabilities through a nested user namespace', async () => {
    assert.equal(await attack(kit(), 'target', 'userns'), 'err EPERM');
    assert.equal(await attack(kit(), 'target', 'clone-userns'), 'err EPERM');
    assert.match((await inBox(kit(), 'target', 'unshare -U -r id')).stderr, /Operation not permitted/);
    // Even where the box may make one, root of a nested user namespace is root of nothing
    // on the host: its ids map into the box's range and no host-only action works.
    const nested = await inBox(
      kit(),
      'nested',
      "unshare -U -r sh -c 'cat /proc/self/uid_map; grep CapEff /proc/self/status; /attack mknod /dev/x c 1 3; /attack write /proc/sys/kernel/panic 1'",
    );
    const [uidMap, capEff, mknod, sysctl] = nested.stdout.trim().split('\n');
    assert.match(uidMap as string, /^\s*0\s+0\s+1$/, `the nested root is the box's root: ${nested.stdout}${nested.stderr}`);
    assert.match(capEff as string, /000001ffffffffff|0000003fffffffff|000000ffffffffff/, 'with every capability inside');
    assert.equal(mknod, 'err EPERM');
    assert.match(sysctl as string, /^err (EROFS|EACCES)$/);
  });

  attempt('leave a setuid-root file for host users through the idmapped rootfs', async () => {
    const rootfs = (boxes as EscapeBoxes).rootfs.target as string;
    const made = await inBox(kit(), 'target', `cp /bin/busybox /${marker} && chmod 4755 /${marker} && echo made`);
    assert.equal(made.stdout.trim(), 'made', made.stderr);
    // On disk the file is host root's and setuid: what keeps host users from running it is
    // the 0700 directory above every rootfs.
    const file = join(rootfs, marker);
    assert.equal(statSync(file).uid, 0);
    assert.equal(statSync(file).mode & 0o4000, 0o4000);
    assert.equal(statSync(join(rootfs, '..')).mode & 0o077, 0, 'the rootfs parent is closed to other host users');
    // A host user (nobody): setgid, setuid (dropping every capability), then exec.
    const user = spawnSync(file, ['id', '-u'], { encoding: 'utf8', uid: 65534, gid: 65534 });
    assert.equal((user.error as NodeJS.ErrnoException | undefined)?.code, 'EACCES', 'an unprivileged host user cannot reach it');
  });
});
