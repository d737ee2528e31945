import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNsboxError } from '@nsbox/core';
import { createCgroupDriver } from './create-driver.js';
import { HybridDriver } from './hybrid-driver.js';
import { detectCgroupLayout, parseCgroupMounts } from './layout.js';
import { V1Driver } from './v1-driver.js';
import { V2Driver } from './v2-driver.js';

// Ubuntu 22.04 with systemd: cgroup2 alone at /sys/fs/cgroup.
const PURE_V2 = `22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
37 22 0:33 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:13 - bpf bpf rw,mode=700
`;

// This machine's mountinfo (no optional fields, each controller on its own).
const THIS_HYBRID_HOST = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// CentOS 7: v1 only, systemd co-mounts cpu,cpuacct and net_cls,net_prio; no cgroup2 at all.
const PURE_V1 = `18 60 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw,seclabel
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,seclabel,mode=755
25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,seclabel,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,seclabel,cpu,cpuacct
29 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,seclabel,net_cls,net_prio
30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,seclabel,memory
31 24 0:27 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,seclabel,freezer
32 24 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,seclabel,pids
33 24 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,seclabel,cpuset
`;

describe('cgroup layout detection', () => {
  let fakeRoot: string;

  beforeEach(() => {
    fakeRoot = mkdtempSync(join(tmpdir(), 'nsbox-layout-'));
  });

  afterEach(() => {
    rmSync(fakeRoot, { recursive: true, force: true });
  });

  /** A file tree that answers what detection reads: mountinfo and cgroup.controllers. */
  function fakeHost(mountinfo: string, controllers: Record<string, string> = {}): string {
    mkdirSync(join(fakeRoot, 'proc/self'), { recursive: true });
    writeFileSync(join(fakeRoot, 'proc/self/mountinfo'), mountinfo);
    for (const [mountPoint, list] of Object.entries(controllers)) {
      mkdirSync(join(fakeRoot, mountPoint), { recursive: true });
      writeFileSync(join(fakeRoot, mountPoint, 'cgroup.controllers'), `${list}\n`);
    }
    return fakeRoot;
  }

  it('sees a pure-v2 host: cgroup2 at /sys/fs/cgroup and its controllers, no v1', () => {
    const root = fakeHost(PURE_V2, { '/sys/fs/cgroup': 'cpuset cpu io memory hugetlb pids rdma misc' });
    const layout = detectCgroupLayout(undefined, { root });
    assert.equal(layout.kind, 'v2');
    assert.deepEqual(layout.v1, {});
    assert.equal(layout.unified, join(root, '/sys/fs/cgroup'));
    assert.deepEqual(layout.unifiedControllers, ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
  });

  it('sees this hybrid host: each v1 controller at its mount, cgroup2 at unified, named hierarchies left out', () => {
    const root = fakeHost(THIS_HYBRID_HOST, { '/sys/fs/cgroup/unified': 'hugetlb' });
    const layout = detectCgroupLayout(undefined, { root });
    assert.equal(layout.kind, 'hybrid');
    const expected = Object.fromEntries(
      ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'].map((name) => [name, join(root, '/sys/fs/cgroup', name)]),
    );
    assert.deepEqual(layout.v1, expected);
    assert.equal(layout.unified, join(root, '/sys/fs/cgroup/unified'));
    assert.deepEqual(layout.unifiedControllers, ['hugetlb']);
  });

  it('sees a pure-v1 host: co-mounted controllers share a path, and there is no unified mount', () => {
    const layout = detectCgroupLayout(PURE_V1);
    assert.equal(layout.kind, 'v1');
    assert.equal(layout.v1['cpu'], '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1['cpuacct'], '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1['net_prio'], '/sys/fs/cgroup/net_cls,net_prio');
    assert.equal(layout.v1['memory'], '/sys/fs/cgroup/memory');
    assert.ok(!('systemd' in layout.v1) && !('name=systemd' in layout.v1) && !('seclabel' in layout.v1) && !('xattr' in layout.v1));
    assert.equal(layout.unified, undefined);
    assert.deepEqual(layout.unifiedControllers, []);
  });

  it('prefers the whole hierarchy over a bind mount of a sub-cgroup, and decodes escaped paths', () => {
    const mountinfo = `50 31 0:32 /docker/abc /mnt/memory\\040bind rw - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw,relatime - cgroup cgroup rw,memory
`;
    assert.equal(parseCgroupMounts(mountinfo)[0]!.mountPoint, '/mnt/memory bind');
    assert.equal(detectCgroupLayout(mountinfo).v1['memory'], '/sys/fs/cgroup/mem ory');
  });

  it('refuses a host with no cgroup mount at all', () => {
    assert.throws(
      () => detectCgroupLayout('28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n'),
      (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED',
    );
  });

  it('picks the backend from the detected kind, once', () => {
    const v1 = createCgroupDriver({ root: fakeHost(PURE_V1) });
    assert.ok(v1 instanceof V1Driver);
    rmSync(join(fakeRoot, 'proc'), { recursive: true });
    assert.ok(createCgroupDriver({ root: fakeHost(PURE_V2) }) instanceof V2Driver);
    assert.ok(createCgroupDriver({ root: fakeHost(THIS_HYBRID_HOST) }) instanceof HybridDriver);
  });

  it('serves a v2 host with only a legacy v1 hierarchy (net_cls) by the v2 backend', () => {
    const legacy = `${PURE_V2}40 26 0:40 / /run/net_cls rw,relatime - cgroup cgroup rw,net_cls\n`;
    const layout = detectCgroupLayout(legacy);
    assert.equal(layout.kind, 'hybrid');
    assert.deepEqual(layout.v1, { net_cls: '/run/net_cls' });
    assert.ok(createCgroupDriver({ layout }) instanceof V2Driver);
  });

  it('detects this machine as hybrid with hugetlb on its cgroup2 mount', function () {
    // Judged from the files, not from detection: a host shaped like this build machine.
    const shapedLikeThisHost = existsSync('/sys/fs/cgroup/unified/cgroup.controllers') && existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');
    if (!shapedLikeThisHost) this.skip();
    const layout = detectCgroupLayout();
    assert.equal(layout.kind, 'hybrid');
    assert.equal(layout.unified, '/sys/fs/cgroup/unified');
    assert.ok(layout.unifiedControllers.includes('hugetlb'), `unifiedControllers: ${layout.unifiedControllers.join(' ')}`);
    assert.equal(layout.v1['memory'], '/sys/fs/cgroup/memory');
    assert.equal(layout.v1['freezer'], '/sys/fs/cgroup/freezer');
  });
});
