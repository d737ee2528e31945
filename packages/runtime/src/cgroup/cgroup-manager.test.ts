/**
 * The cgroup manager on real box cgroups of this host (hybrid: v1 controllers, a cgroup2
 * mount without them), and on cgroup2 forced on /sys/fs/cgroup/unified, where the resource
 * controllers are absent: there their files are fakes, the core files (cgroup.*) real. On a
 * pure cgroup2 host (the VM lane's guest: Debian's 6.1, systemd) the real v2 controllers.
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import type { BoxCgroup, BoxResources, CgroupDriver, CgroupLayout, KillOptions } from '@nsbox/runtime-api';
import { BoxCgroupManager } from './cgroup-manager.js';
import { joinCgroup, Processes, pidOf, removeTestCgroups, requireRoot, testParentName } from './cgroup-test-support.js';
import { createCgroupDriver } from './create-driver.js';
import { detectCgroupLayout } from './layout.js';

const MiB = 2 ** 20;

/** A driver that counts the writes the manager makes (the seam: every write still reaches the real driver). */
class CountingDriver implements CgroupDriver {
  readonly writes: string[] = [];

  constructor(
    readonly inner: CgroupDriver,
    private readonly fakeFiles?: Map<string, string>,
  ) {}

  get layout(): CgroupLayout {
    return this.inner.layout;
  }
  get parent(): string {
    return this.inner.parent;
  }
  create(name: string): BoxCgroup {
    return this.inner.create(name);
  }
  get(name: string): BoxCgroup | undefined {
    return this.inner.get(name);
  }
  exists(name: string): boolean {
    return this.inner.exists(name);
  }

  list(): string[] {
    return this.inner.list();
  }
  pids(name: string): number[] {
    return this.inner.pids(name);
  }
  isPopulated(name: string): boolean {
    return this.inner.isPopulated(name);
  }
  freeze(name: string): Promise<void> {
    return this.inner.freeze(name);
  }
  thaw(name: string): Promise<void> {
    return this.inner.thaw(name);
  }
  kill(name: string, options?: KillOptions): Promise<void> {
    return this.inner.kill(name, options);
  }
  remove(name: string, options?: KillOptions): Promise<void> {
    return this.inner.remove(name, options);
  }
  removeParent(): void {
    this.inner.removeParent();
  }
  /** Controller files the host lacks live in `fakeFiles` (forced cgroup2 only); core files are real. */
  read(name: string, controller: string, file: string): string {
    if (this.fakeFiles && controller !== 'cgroup') {
      const value = this.fakeFiles.get(file);
      if (value === undefined) return this.inner.read(name, controller, file);
      return value;
    }
    return this.inner.read(name, controller, file);
  }
  write(name: string, controller: string, file: string, value: string): void {
    this.writes.push(`${file}=${value}`);
    if (this.fakeFiles && controller !== 'cgroup') {
      if (!this.fakeFiles.has(file)) this.inner.write(name, controller, file, value); // names why the host lacks it
      this.fakeFiles.set(file, value);
      return;
    }
    this.inner.write(name, controller, file, value);
  }
}

describe('the cgroup manager on real box cgroups', function () {
  this.timeout(30_000);
  let parent: string;
  let driver: CountingDriver;
  let manager: BoxCgroupManager;
  let processes: Processes;
  const box = { id: 'box1' };

  before(function () {
    requireRoot(this);
    if (detectCgroupLayout().v1['memory'] === undefined) {
      console.log('  skipped: these figures are for a host with v1 memory, cpu and pids controllers');
      this.skip();
    }
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    driver = new CountingDriver(createCgroupDriver({ parent }));
    manager = new BoxCgroupManager(driver);
    driver.create(box.id);
    manager.began(box, { existed: false });
  });

  afterEach(async () => {
    processes.killAll();
    await removeTestCgroups(parent);
  });

  function file(controller: string, name: string): string {
    return driver.inner.read(box.id, controller, name).trim();
  }

  it('merges two owners, the strictest ceiling holding, and writes only what changed', () => {
    const first = manager.apply(box, 'limits', { memory: { max: 64 * MiB }, pids: { max: 200 } });
    assert.deepEqual(
      first.written.map((write) => `${write.file}=${write.value}`),
      [`memory.limit_in_bytes=${64 * MiB}`, 'pids.max=200'],
    );
    // A second owner with a stricter pids limit: pids.max alone is written.
    assert.deepEqual(
      manager.apply(box, 'pidcap', { pids: { max: 77 } }).written.map((write) => write.file),
      ['pids.max'],
    );
    assert.equal(file('pids', 'pids.max'), '77');
    // limits changes its memory: its own pids (200) is still looser, so pids.max is not touched.
    driver.writes.length = 0;
    const changed = manager.apply(box, 'limits', { memory: { max: 128 * MiB }, pids: { max: 200 } });
    assert.deepEqual(driver.writes, [`memory.limit_in_bytes=${128 * MiB}`], 'one write: the one knob that changed');
    assert.deepEqual(changed.written[0]?.knobs, ['memory.max']);
    assert.equal(file('pids', 'pids.max'), '77');
    assert.equal(file('memory', 'memory.limit_in_bytes'), String(128 * MiB));
    assert.deepEqual(manager.desired(box).owners, { 'memory.max': { owners: ['limits'] }, 'pids.max': { owners: ['pidcap'] } });
    assert.equal(manager.apply(box, 'limits', { memory: { max: 128 * MiB }, pids: { max: 200 } }).written.length, 0, 'the same declaration writes nothing');

    // Withdrawing: what only the owner set goes back to what the others want, then to no limit.
    assert.deepEqual(
      manager.withdraw(box, 'pidcap').written.map((write) => `${write.file}=${write.value}`),
      ['pids.max=200'],
    );
    manager.withdraw(box, 'limits');
    assert.equal(file('pids', 'pids.max'), 'max');
    assert.ok(Number(file('memory', 'memory.limit_in_bytes')) > 2 ** 62, 'memory is unlimited again');
    assert.deepEqual(manager.desired(box).declarations, {});
  });

  it('does the same on v1 alone (this host’s v1 hierarchies, forced), the v1 files and order', () => {
    const { unified: _unified, ...host } = detectCgroupLayout();
    const v1 = new CountingDriver(createCgroupDriver({ parent, layout: { ...host, kind: 'v1', unifiedControllers: [] } }));
    const only = new BoxCgroupManager(v1);
    v1.create('box3');
    only.began({ id: 'box3' }, { existed: false });
    only.apply({ id: 'box3' }, 'limits', { memory: { max: 64 * MiB, swap: 0 }, cpu: { quota: 50_000, weight: 50 } });
    only.apply({ id: 'box3' }, 'pidcap', { pids: { max: 77 } });
    v1.writes.length = 0;
    only.apply({ id: 'box3' }, 'limits', { memory: { max: 256 * MiB, swap: 0 }, cpu: { quota: 50_000, weight: 50 } });
    assert.deepEqual(
      v1.writes,
      [`memory.memsw.limit_in_bytes=${256 * MiB}`, `memory.limit_in_bytes=${256 * MiB}`],
      'memsw grows first, nothing else is written',
    );
    assert.deepEqual(
      ['cpu.cfs_quota_us', 'cpu.shares'].map((name) => v1.inner.read('box3', 'cpu', name).trim()),
      ['50000', '512'],
    );
    assert.equal(v1.inner.read('box3', 'pids', 'pids.max').trim(), '77');
    assert.equal(v1.inner.get('box3')?.unifiedDir, undefined, 'no cgroup2 directory: v1 alone');
  });

  it('refuses a conflict or a knob the kernel refuses, leaving the cgroup and the declarations as they were', () => {
    manager.apply(box, 'limits', { cpu: { weight: 200 }, pids: { max: 100 } });
    driver.writes.length = 0;
    assert.throws(
      () => manager.apply(box, 'oci', { cpu: { weight: 50 } }),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /cpu\.weight is set by both 'limits' \(200\) and 'oci' \(50\)/.test(error.message),
    );
    assert.deepEqual(driver.writes, [], 'nothing written');
    assert.equal(file('cpu', 'cpu.shares'), '2048');

    // Memory node 63 does not exist: the kernel refuses cpuset.mems, and what went before it is undone.
    const refused = (() => {
      try {
        manager.apply(box, 'limits', { cpu: { weight: 200, mems: '63' }, pids: { max: 10 } });
      } catch (error) {
        return error as NsboxError;
      }
      return undefined;
    })();
    assert.ok(isNsboxError(refused) && refused.code === 'E_RUNTIME', String(refused));
    assert.match(refused?.message ?? '', /^resource cpu\.mems \(from 'limits'\): the kernel refused cpuset\.mems = '63'/);
    assert.equal(file('pids', 'pids.max'), '100', 'the owner’s last declaration is back in the kernel');
    assert.deepEqual(manager.desired(box).resources, { cpu: { weight: 200 }, pids: { max: 100 } });
  });

  it('reads back what is enforced and what the box uses', () => {
    manager.apply(box, 'limits', { cpu: { quota: 50_000, period: 100_000, weight: 50 }, memory: { max: 64 * MiB, high: 32 * MiB }, pids: { max: 20 } });
    const sleeper = processes.sleeper();
    joinCgroup(driver.inner.get(box.id)?.procsFiles ?? [], pidOf(sleeper));
    const effective = manager.effective(box);
    assert.deepEqual(
      [effective?.cpu?.quota, effective?.cpu?.period, effective?.cpu?.weight, effective?.memory, effective?.pids],
      [50_000, 100_000, 50, { max: 64 * MiB, high: 32 * MiB }, { max: 20 }],
    );
    assert.equal(
      effective?.cpu?.cpus,
      readFileSync(join(detectCgroupLayout().v1['cpuset'] as string, parent, 'cpuset.cpus'), 'utf8').trim(),
      "a v1 box's cpuset is its parent's",
    );
    const stats = manager.stats(box);
    assert.equal(stats?.pids.current, 1);
    // A task moved into a v1 memory cgroup leaves its charges behind: the figure is there, not necessarily above 0.
    assert.equal(typeof stats?.memory.usage, 'number');
    assert.equal(typeof stats?.cpu.usageUsec, 'number');
    for (const kind of ['anon', 'file', 'kernel'] as const) assert.equal(typeof stats?.memory[kind], 'number', `memory.${kind}`);
    // PSI lives in cgroup2's core files: wherever the box has a unified directory (v2, hybrid).
    if (driver.inner.get(box.id)?.unifiedDir !== undefined && existsSync('/proc/pressure/cpu')) {
      assert.ok((stats?.pressure?.cpu?.some.totalUsec ?? -1) >= 0, 'cpu pressure of the box');
      assert.ok((stats?.pressure?.memory?.full?.totalUsec ?? -1) >= 0, 'memory pressure (full) of the box');
    }
    assert.deepEqual(manager.events(box), { oomKills: 0, pidsMax: 0 });
    assert.equal(manager.effective({ id: 'nobox' }), undefined);
  });

  it("takes a box's cgroup from an earlier usage() while it is there, and looks it up again once it is gone", async () => {
    const first = manager.usage(box);
    assert.ok(first);
    const again = manager.usage(box, first.cgroup);
    assert.equal(again?.cgroup, first.cgroup, 'the cgroup handed in, not a new lookup');
    assert.equal(typeof again?.stats.cpu.usageUsec, 'number');
    await driver.remove(box.id);
    assert.equal(manager.usage(box, first.cgroup), undefined, 'gone: no usage from the directories it had');
  });

  it('hands realtime CPU time down through its own parent levels (v1)', function () {
    const rootRuntime = Number(readFileSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us', 'utf8'));
    if (!(rootRuntime > 20_000) || manager.check({ cpu: { realtimeRuntime: 10_000 } }).length > 0) {
      console.log(`      skipped: no realtime group scheduling budget here (${JSON.stringify(manager.check({ cpu: { realtimeRuntime: 10_000 } }))})`);
      this.skip();
    }
    manager.apply(box, 'oci', { cpu: { realtimeRuntime: 10_000, realtimePeriod: 1_000_000 } });
    assert.equal(file('cpu', 'cpu.rt_runtime_us'), '10000');
    const parentDir = join(detectCgroupLayout().v1['cpu'] as string, parent);
    assert.equal(Number(readFileSync(join(parentDir, 'cpu.rt_runtime_us'), 'utf8')), 10_000, 'the parent holds what its one box needs');
  });

  it('says what this host cannot enforce, with the kernel’s reason', () => {
    const layout = detectCgroupLayout();
    const weighsIo = ['blkio.weight', 'blkio.bfq.weight'].some((name) => existsSync(join(layout.v1['blkio'] ?? '/nonexistent', name)));
    const delegated = layout.unified === undefined ? [] : readFileSync(join(layout.unified, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
    const hugetlb = existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB') && delegated.includes('hugetlb');
    const problems = manager.check({ memory: { max: MiB }, io: { weight: 100 }, hugetlb: { '2MB': MiB } });
    assert.deepEqual(
      problems.map((problem) => problem.knob),
      [...(weighsIo ? [] : ['io.weight']), ...(hugetlb ? [] : ['hugetlb.2MB'])],
      JSON.stringify(problems),
    );
    for (const problem of problems) assert.match(problem.reason, /BFQ|hugetlb|huge pages/);
  });
});

describe('the cgroup manager on cgroup2 forced on this host (controller files faked)', function () {
  this.timeout(30_000);
  let parent: string;
  let driver: CountingDriver;
  let manager: BoxCgroupManager;
  let unifiedDir: string;
  const box = { id: 'box2' };

  before(function () {
    requireRoot(this);
    if (detectCgroupLayout().unified === undefined) {
      console.log('  skipped: this host has no cgroup2 mount');
      this.skip();
    }
  });

  beforeEach(() => {
    const host = detectCgroupLayout();
    parent = testParentName();
    // The layout claims the controllers; their files (absent here) are fakes that start at the kernel's defaults.
    const layout: CgroupLayout = { kind: 'v2', v1: {}, unified: host.unified, unifiedControllers: ['cpu', 'memory', 'pids', 'io'] };
    const fakes = new Map(
      Object.entries({
        'cpu.max': 'max 100000',
        'cpu.weight': '100',
        'memory.max': 'max',
        'memory.high': 'max',
        'memory.low': '0',
        'memory.swap.max': 'max',
        'pids.max': 'max',
        'io.max': '',
        'io.weight': 'default 100',
      }),
    );
    driver = new CountingDriver(createCgroupDriver({ layout, parent }), fakes);
    // The host's delegation is what check() reads; apply trusts the layout.
    manager = new BoxCgroupManager(driver);
    unifiedDir = driver.create(box.id).unifiedDir as string;
    manager.began(box, { existed: false });
  });

  afterEach(async () => {
    await removeTestCgroups(parent);
  });

  it('writes the v2 files (one io.max line per device), only what changed, and raw unified files for real', () => {
    const written = manager.apply(box, 'limits', {
      cpu: { quota: 150_000, weight: 300 },
      memory: { max: 512 * MiB, reservation: 64 * MiB, swap: 0 },
      io: { throttle: [{ device: '7:0', writeBps: 4 * MiB, readIops: 100 }] },
      unified: { 'cgroup.max.descendants': '5' },
    });
    assert.deepEqual(
      written.written.map((write) => `${write.file}=${write.value}`),
      [
        'cpu.max=150000 100000',
        'cpu.weight=300',
        `memory.max=${512 * MiB}`,
        'memory.swap.max=0',
        `memory.low=${64 * MiB}`,
        'io.max=7:0 rbps=max wbps=4194304 riops=100 wiops=max',
        'cgroup.max.descendants=5',
      ],
    );
    assert.equal(readFileSync(join(unifiedDir, 'cgroup.max.descendants'), 'utf8').trim(), '5', 'the kernel has the raw file');
    driver.writes.length = 0;
    manager.apply(box, 'pidcap', { pids: { max: 77 }, io: { throttle: [{ device: '7:0', writeBps: 2 * MiB }] } });
    assert.deepEqual(
      driver.writes,
      ['io.max=7:0 rbps=max wbps=2097152 riops=100 wiops=max', 'pids.max=77'],
      'the stricter owner, the device line rewritten whole',
    );
    driver.writes.length = 0;
    manager.withdraw(box, 'limits');
    assert.deepEqual(
      driver.writes,
      ['io.max=7:0 rbps=max wbps=2097152 riops=max wiops=max', 'cpu.max=max 100000', 'cpu.weight=100', 'memory.max=max', 'memory.swap.max=max', 'memory.low=0'],
      "limits' knobs reset, pidcap's kept; the raw file stays as written",
    );
    assert.deepEqual(manager.effective(box), {
      cpu: { weight: 100 },
      pids: { max: 77 },
      io: { weight: 100, throttle: [{ device: '7:0', writeBps: 2 * MiB }] },
    });
  });

  it('refuses what cgroup2 cannot do, naming the knob and its owner, before writing anything', () => {
    for (const [resources, reason] of [
      [
        { memory: { oomKillDisable: true } },
        /memory\.oomKillDisable \(from 'oci'\) cannot be enforced on this host: cgroup2 has no switch to turn the OOM killer off/,
      ],
      [{ cpu: { realtimeRuntime: 1000 } }, /cpu\.realtime \(from 'oci'\) cannot be enforced on this host: realtime CPU time is limited by cgroup v1 only/],
    ] as const) {
      assert.throws(
        () => manager.apply(box, 'oci', resources),
        (error: NsboxError) => error.code === 'E_UNSUPPORTED' && reason.test(error.message),
      );
    }
    assert.deepEqual(driver.writes, []);
  });
});

describe('the cgroup manager on pure cgroup2 (real controllers)', function () {
  this.timeout(30_000);
  let parent: string;
  let driver: CgroupDriver;
  let manager: BoxCgroupManager;
  let processes: Processes;
  const box = { id: 'box4' };

  before(function () {
    requireRoot(this);
    if (detectCgroupLayout().kind !== 'v2') {
      console.log('  skipped: this host is not pure cgroup2 (the VM lane runs this suite)');
      this.skip();
    }
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    // The driver this host chooses: under systemd, each box a delegated scope.
    driver = createCgroupDriver({ parent });
    manager = new BoxCgroupManager(driver);
    driver.create(box.id);
    manager.began(box, { existed: false });
  });

  afterEach(async () => {
    processes.killAll();
    for (const name of driver.list()) await driver.remove(name);
    driver.removeParent();
  });

  it('takes a cpuset and a memory limit away from a box with processes: every CPU online again, swap back to max', () => {
    const wanted: BoxResources = { cpu: { cpus: '0' }, memory: { max: 64 * MiB, swap: 0 } };
    assert.deepEqual(manager.check(wanted), [], 'the guest delegates cpuset and memory (with swap accounting)');
    joinCgroup(driver.get(box.id)?.procsFiles ?? [], pidOf(processes.sleeper()));
    manager.apply(box, 'limits', wanted);
    const read = (controller: string, file: string) => driver.read(box.id, controller, file).trim();
    assert.deepEqual([read('cpuset', 'cpuset.cpus'), read('memory', 'memory.max'), read('memory', 'memory.swap.max')], ['0', String(64 * MiB), '0']);
    // Linux 6.1 refuses an empty cpuset.cpus here (ENOSPC): the reset is the CPUs online.
    manager.withdraw(box, 'limits');
    const online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    assert.deepEqual([read('cpuset', 'cpuset.cpus'), read('memory', 'memory.max'), read('memory', 'memory.swap.max')], [online, 'max', 'max']);
    assert.equal(driver.pids(box.id).length, 1, 'the box kept its process throughout');
  });
});
