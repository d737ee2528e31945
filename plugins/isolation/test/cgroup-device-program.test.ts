/**
 * The cgroup2 device program alone (the launcher's `bpf.devices` op, no v1 devices
 * controller involved): on this hybrid host the BPF program on the box's cgroup2 directory
 * is enforced on its own, as on a pure cgroup v2 host.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LaunchOp } from '@nsbox/native';
import { detectCgroupLayout } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { ID_MAP, Launch, makeRootfs, Reaper } from '../../../native/test/launcher-harness.js';

describe('the cgroup2 device program', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'cgroup BPF');
  });

  it('allows the listed devices and refuses the rest, later rules first', async function () {
    const unified = detectCgroupLayout().unified;
    if (!unified) this.skip();
    const cgroup = join(unified as string, `nsbox-test-${randomBytes(4).toString('hex')}`);
    mkdirSync(cgroup);
    cleanup.add(`rmdir ${cgroup}`, async () => {
      for (let tries = 0; tries < 50 && existsSync(cgroup); tries++) {
        try {
          rmdirSync(cgroup);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100)); // the box is still dying
        }
      }
    });
    const reaper = new Reaper();
    cleanup.add('remove the reaper', () => reaper.remove());
    const rootfs = makeRootfs(0);
    cleanup.add('remove the rootfs', () => rootfs.remove());
    const ops: LaunchOp[] = [
      ['mode', 'create'],
      ['cgroup.procs', join(cgroup, 'cgroup.procs')],
      // deny all; mknod anything; null and zero; then no writes to zero (a later rule wins).
      ['bpf.devices', cgroup, 'a:*:*:rwm:deny', 'c:*:*:m:allow', 'c:1:3:rwm:allow', 'c:1:5:rwm:allow', 'c:1:5:w:deny'],
      ['namespaces', 'user', 'pid', 'mnt', 'uts', 'ipc', 'net'],
      ['uidmap', ID_MAP],
      ['gidmap', ID_MAP],
      ['setgroups', 'deny'],
      ['tree', rootfs.rootfs, 'rbind,idmap'],
      ['rootfs', rootfs.rootfs, 'idmap'],
      ['dev.bind', '/dev/null', '/dev/null'],
      ['dev.bind', '/dev/zero', '/dev/zero'],
      ['dev.bind', '/dev/full', '/dev/full'],
      ['pivot_root'],
      ['env', 'PATH=/bin'],
      [
        'exec',
        'sh',
        '-c',
        'echo x > /dev/null && echo null-write; head -c 2 /dev/zero | wc -c; echo x > /dev/zero || echo zero-write-refused; head -c 1 /dev/full || echo full-refused',
      ],
    ];
    const launch = new Launch(ops, { reaper });
    assert.match(await launch.result, /^ok \d+$/, launch.stderr);
    assert.deepEqual((await launch.output()).trim().split('\n'), ['null-write', '2', 'zero-write-refused', 'full-refused']);
    assert.match(launch.stderr, /Operation not permitted/);
  });
});
