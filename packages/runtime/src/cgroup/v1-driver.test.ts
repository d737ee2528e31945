/**
 * The pure-v1 backend, forced on this host's v1 mounts (the cgroup2 mount is left out of its
 * layout): freezing through freezer.state, killing by cgroup.procs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError } from '@nsbox/core';
import {
  CGROUP_ROOT,
  exitSignal,
  isDir,
  joinCgroup,
  Processes,
  parentDirsOnHost,
  pidOf,
  processState,
  removeTestCgroups,
  requireRoot,
  testParentName,
  ticksOver,
  usesCpuWithin,
} from './cgroup-test-support.js';
import { createCgroupDriver } from './create-driver.js';
import { type CgroupLayout, detectCgroupLayout } from './layout.js';
import { V1_CONTROLLERS, V1Driver } from './v1-driver.js';

describe('v1 cgroup driver (forced on this host)', function () {
  this.timeout(20_000);
  let layout: CgroupLayout;
  let parent: string;
  let driver: V1Driver;
  let processes: Processes;

  before(function () {
    requireRoot(this);
    const host = detectCgroupLayout();
    if (host.v1['freezer'] === undefined || host.v1['memory'] === undefined) {
      console.log('  skipped: this host mounts no v1 freezer and memory hierarchies');
      this.skip();
    }
    layout = { kind: 'v1', v1: host.v1, unifiedControllers: [] };
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    const created = createCgroupDriver({ layout, parent });
    assert.ok(created instanceof V1Driver);
    driver = created;
  });

  afterEach(async () => {
    processes.killAll();
    await removeTestCgroups(parent);
  });

  it('creates in the v1 hierarchies only, one procs file per hierarchy, idempotently', () => {
    const box = driver.create('box1');
    assert.deepEqual(driver.create('box1'), box);
    assert.equal(box.unifiedDir, undefined);
    assert.equal(box.procsFiles.length, new Set(V1_CONTROLLERS.map((controller) => layout.v1[controller])).size);
    for (const controller of V1_CONTROLLERS) assert.ok(isDir(box.v1Dirs[controller]!), controller);
    assert.ok(!existsSync(join(CGROUP_ROOT, 'unified', parent)), 'nothing on the cgroup2 mount');
    assert.deepEqual(driver.list(), ['box1']);
  });

  it('copies cpuset.cpus and cpuset.mems down the chain so that a process can join', () => {
    const box = driver.create('box1');
    for (const dir of [join(layout.v1['cpuset']!, parent), box.v1Dirs['cpuset']!]) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        assert.equal(readFileSync(join(dir, file), 'utf8'), readFileSync(join(layout.v1['cpuset']!, file), 'utf8'), `${dir}/${file}`);
      }
    }
    const pid = pidOf(processes.sleeper());
    joinCgroup(box.procsFiles, pid);
    assert.deepEqual(driver.pids('box1'), [pid]);
    assert.equal(driver.isPopulated('box1'), true);
  });

  it('completes a half-created box and get() sees it only once complete', () => {
    mkdirSync(join(layout.v1['memory']!, parent, 'box1'), { recursive: true });
    assert.equal(driver.get('box1'), undefined);
    assert.deepEqual(driver.list(), ['box1']);
    const box = driver.create('box1');
    assert.deepEqual(driver.get('box1'), box);
  });

  it('freezes through freezer.state (tasks stop, state D) and thaws', async () => {
    const box = driver.create('box1');
    const spinner = pidOf(processes.spinner());
    joinCgroup(box.procsFiles, spinner);
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins before freezing');
    await driver.freeze('box1');
    assert.equal(readFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'utf8').trim(), 'FROZEN');
    assert.equal(processState(spinner), 'D');
    assert.equal(await ticksOver(spinner, 200), 0, 'no CPU time while frozen');
    await driver.thaw('box1');
    assert.equal(readFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'utf8').trim(), 'THAWED');
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins again after thaw');
  });

  it('kills by cgroup.procs: a frozen box, a forking shell, a nested cgroup', async () => {
    const box = driver.create('box1');
    const sleeper = processes.sleeper();
    const forker = processes.forker();
    joinCgroup(box.procsFiles, pidOf(sleeper));
    joinCgroup(box.procsFiles, pidOf(forker));
    const nested = processes.sleeper();
    mkdirSync(join(box.v1Dirs['pids']!, 'inner'));
    writeFileSync(join(box.v1Dirs['pids']!, 'inner', 'cgroup.procs'), String(pidOf(nested)));
    await driver.freeze('box1');
    await driver.kill('box1');
    for (const child of [sleeper, forker, nested]) assert.equal(await exitSignal(child), 'SIGKILL');
    assert.deepEqual(driver.pids('box1'), []);
    assert.equal(readFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'utf8').trim(), 'THAWED');
  });

  it('kills a child cgroup frozen on its own, which thawing the box alone would leave frozen', async () => {
    const box = driver.create('box1');
    const inner = join(box.v1Dirs['freezer']!, 'inner');
    mkdirSync(inner);
    const sleeper = processes.sleeper();
    joinCgroup(box.procsFiles, pidOf(sleeper));
    writeFileSync(join(inner, 'cgroup.procs'), String(pidOf(sleeper)));
    writeFileSync(join(inner, 'freezer.state'), 'FROZEN');
    await driver.kill('box1', { timeoutMs: 3000 });
    assert.equal(await exitSignal(sleeper), 'SIGKILL');
  });

  it('removes every directory, then removeParent() the parent, and nothing is left on the host', async () => {
    const box = driver.create('box1');
    joinCgroup(box.procsFiles, pidOf(processes.sleeper()));
    mkdirSync(join(box.v1Dirs['memory']!, 'inner'));
    await driver.remove('box1');
    driver.removeParent();
    assert.deepEqual(parentDirsOnHost(parent), []);
    await driver.remove('box1');
  });

  it('reads and writes memory.limit_in_bytes', () => {
    driver.create('box1');
    driver.write('box1', 'memory', 'memory.limit_in_bytes', '33554432');
    assert.equal(driver.read('box1', 'memory', 'memory.limit_in_bytes').trim(), '33554432');
    assert.equal(readFileSync(join(layout.v1['memory']!, parent, 'box1', 'memory.limit_in_bytes'), 'utf8').trim(), '33554432');
  });

  it('refuses a controller its layout lacks, and a file this kernel does not have, with E_UNSUPPORTED', () => {
    driver.create('box1');
    assert.throws(
      () => driver.write('box1', 'hugetlb', 'hugetlb.2MB.limit_in_bytes', '0'),
      (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && error.message.includes("'hugetlb'"),
    );
    assert.throws(
      () => driver.write('box1', 'memory', 'memory.no_such_knob', '1'),
      (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && error.message.includes('memory.no_such_knob'),
    );
  });

  it('says E_UNSUPPORTED for freeze when the layout has no freezer', async () => {
    const { freezer: _, ...withoutFreezer } = layout.v1;
    const noFreezer = createCgroupDriver({ layout: { ...layout, v1: withoutFreezer }, parent });
    noFreezer.create('box1');
    await assert.rejects(noFreezer.freeze('box1'), (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED');
  });
});
