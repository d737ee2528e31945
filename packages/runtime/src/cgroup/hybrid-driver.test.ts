/**
 * The driver this machine gets by default: hybrid, v1 controllers plus the cgroup2 mount at
 * /sys/fs/cgroup/unified (hugetlb only). Real cgroups, real processes, under a parent of
 * the test's own.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError } from '@nsbox/core';
import type { CgroupDriver } from './cgroup-driver.js';
import {
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
import { HybridDriver } from './hybrid-driver.js';
import { detectCgroupLayout } from './layout.js';
import { V1_CONTROLLERS } from './v1-driver.js';

describe('hybrid cgroup driver (this machine)', function () {
  this.timeout(20_000);
  let parent: string;
  let driver: CgroupDriver;
  let processes: Processes;

  before(function () {
    requireRoot(this);
    if (detectCgroupLayout().kind !== 'hybrid') {
      console.log('  skipped: this host is not cgroup-hybrid');
      this.skip();
    }
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    driver = createCgroupDriver({ parent });
  });

  afterEach(async () => {
    processes.killAll();
    await removeTestCgroups(parent);
  });

  it('is the backend chosen for this host', () => {
    assert.ok(driver instanceof HybridDriver);
    assert.equal(driver.layout.kind, 'hybrid');
  });

  it('creates idempotently, with a directory in every v1 hierarchy we use and in the unified one', () => {
    const first = driver.create('box1');
    const second = driver.create('box1');
    assert.deepEqual(second, first);
    for (const controller of V1_CONTROLLERS) {
      assert.equal(first.v1Dirs[controller], join(driver.layout.v1[controller]!, parent, 'box1'));
      assert.ok(isDir(first.v1Dirs[controller]!), `${controller} dir`);
    }
    assert.equal(first.unifiedDir, join(driver.layout.unified!, parent, 'box1'));
    assert.ok(isDir(first.unifiedDir!));
    // One per hierarchy (co-mounted controllers share one), plus the unified one.
    assert.equal(first.procsFiles.length, new Set(V1_CONTROLLERS.map((controller) => driver.layout.v1[controller])).size + 1);
    for (const file of first.procsFiles) assert.ok(readFileSync(file, 'utf8') === '', file);
    // cpuset came down the chain, or no one could join.
    assert.equal(readFileSync(join(first.v1Dirs['cpuset']!, 'cpuset.cpus'), 'utf8'), readFileSync(join(driver.layout.v1['cpuset']!, 'cpuset.cpus'), 'utf8'));
    assert.deepEqual(driver.get('box1'), first);
    assert.equal(driver.get('nobox'), undefined);
    driver.create('box2');
    assert.deepEqual(driver.list(), ['box1', 'box2']);
  });

  it('shows a process written to the procs files in pids() and isPopulated()', () => {
    const box = driver.create('box1');
    assert.deepEqual(driver.pids('box1'), []);
    assert.equal(driver.isPopulated('box1'), false);
    const pid = pidOf(processes.sleeper());
    joinCgroup(box.procsFiles, pid);
    assert.deepEqual(driver.pids('box1'), [pid]);
    assert.equal(driver.isPopulated('box1'), true);
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/${parent}/box1$`, 'm'));
  });

  it('counts a process in a v1 hierarchy only, and one in a cgroup the box made below itself', () => {
    const box = driver.create('box1');
    const v1Only = pidOf(processes.sleeper());
    writeFileSync(join(box.v1Dirs['pids']!, 'cgroup.procs'), String(v1Only));
    const nestedDir = join(box.unifiedDir!, 'inner');
    mkdirSync(nestedDir);
    const nested = pidOf(processes.sleeper());
    writeFileSync(join(nestedDir, 'cgroup.procs'), String(nested));
    assert.deepEqual(
      driver.pids('box1'),
      [v1Only, nested].sort((a, b) => a - b),
    );
  });

  it('freezes through cgroup.freeze (the process stops using CPU) and thaws', async () => {
    const box = driver.create('box1');
    const spinner = pidOf(processes.spinner());
    joinCgroup(box.procsFiles, spinner);
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins before freezing');
    await driver.freeze('box1');
    assert.match(readFileSync(join(box.unifiedDir!, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
    assert.equal(await ticksOver(spinner, 200), 0, 'no CPU time while frozen');
    await driver.thaw('box1');
    assert.match(readFileSync(join(box.unifiedDir!, 'cgroup.events'), 'utf8'), /^frozen 0$/m);
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins again after thaw');
  });

  it('thaws a box someone froze through the v1 freezer', async () => {
    const box = driver.create('box1');
    const spinner = pidOf(processes.spinner());
    joinCgroup(box.procsFiles, spinner);
    writeFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'FROZEN');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(processState(spinner), 'D');
    await driver.thaw('box1');
    assert.equal(readFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'utf8').trim(), 'THAWED');
    assert.ok(await usesCpuWithin(spinner, 2000));
  });

  it('kills everything through cgroup.kill, frozen or not, and leaves the box thawed', async () => {
    const box = driver.create('box1');
    const sleeper = processes.sleeper();
    const forker = processes.forker();
    joinCgroup(box.procsFiles, pidOf(sleeper));
    joinCgroup(box.procsFiles, pidOf(forker));
    await driver.freeze('box1');
    await driver.kill('box1');
    assert.deepEqual(driver.pids('box1'), []);
    assert.equal(driver.isPopulated('box1'), false);
    assert.equal(await exitSignal(sleeper), 'SIGKILL');
    assert.equal(await exitSignal(forker), 'SIGKILL');
    assert.equal(readFileSync(join(box.unifiedDir!, 'cgroup.freeze'), 'utf8').trim(), '0');
    await driver.kill('box1'); // already empty: nothing to do
    await driver.kill('never-created');
  });

  it('kills processes held by the v1 freezer, including one in the v1 hierarchies only', async () => {
    const box = driver.create('box1');
    const everywhere = processes.sleeper();
    joinCgroup(box.procsFiles, pidOf(everywhere));
    const v1Only = processes.sleeper();
    joinCgroup(
      box.procsFiles.filter((file) => !file.startsWith(box.unifiedDir!)),
      pidOf(v1Only),
    );
    writeFileSync(join(box.v1Dirs['freezer']!, 'freezer.state'), 'FROZEN');
    await driver.kill('box1', { timeoutMs: 3000 });
    assert.equal(await exitSignal(everywhere), 'SIGKILL');
    assert.equal(await exitSignal(v1Only), 'SIGKILL');
    assert.deepEqual(driver.pids('box1'), []);
  });

  it('removes every directory in every hierarchy, nested ones included, is idempotent, and keeps the parent for removeParent()', async () => {
    const box = driver.create('box1');
    const sleeper = processes.sleeper();
    joinCgroup(box.procsFiles, pidOf(sleeper));
    mkdirSync(join(box.unifiedDir!, 'inner'));
    mkdirSync(join(box.v1Dirs['memory']!, 'inner'));
    driver.create('box2');
    await driver.remove('box1');
    assert.equal(await exitSignal(sleeper), 'SIGKILL');
    assert.equal(driver.get('box1'), undefined);
    assert.deepEqual(driver.list(), ['box2']);
    assert.ok(parentDirsOnHost(parent).length > 0, 'the parent stays while box2 lives in it');
    await driver.remove('box2');
    assert.ok(parentDirsOnHost(parent).length > 0, 'remove() keeps the parent for the next box');
    driver.removeParent();
    assert.deepEqual(parentDirsOnHost(parent), []);
    await driver.remove('box2');
    await driver.remove('never-created');
  });

  it('reads and writes v1 memory.limit_in_bytes', () => {
    driver.create('box1');
    driver.write('box1', 'memory', 'memory.limit_in_bytes', String(64 * 1024 * 1024));
    assert.equal(driver.read('box1', 'memory', 'memory.limit_in_bytes').trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(join(driver.layout.v1['memory']!, parent, 'box1', 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
  });

  it('refuses controllers the host lacks or does not delegate with E_UNSUPPORTED naming them', () => {
    driver.create('box1');
    const unsupported = (controller: string) => (error: unknown) =>
      isNsboxError(error) && error.code === 'E_UNSUPPORTED' && error.message.includes(`'${controller}'`);
    assert.throws(() => driver.write('box1', 'rdma', 'rdma.max', 'max'), unsupported('rdma'));
    // hugetlb is on the cgroup2 mount, but the host's root does not delegate it to us.
    assert.throws(() => driver.write('box1', 'hugetlb', 'hugetlb.2MB.max', '0'), unsupported('hugetlb'));
    assert.throws(
      () => driver.write('box1', 'memory', 'cpu.shares', '1'),
      (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT',
    );
    assert.throws(
      () => driver.read('nobox', 'memory', 'memory.limit_in_bytes'),
      (error: unknown) => isNsboxError(error) && error.code === 'E_NOT_FOUND',
    );
  });

  it('rejects names that would leave the parent', () => {
    for (const name of ['..', '../x', 'a/b', '', '.hidden']) {
      assert.throws(
        () => driver.create(name),
        (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT',
        name,
      );
    }
    assert.throws(
      () => createCgroupDriver({ parent: '../escape' }),
      (error: unknown) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT',
    );
  });
});
