/**
 * The cgroup2 backend, forced on this host's cgroup2 mount (/sys/fs/cgroup/unified, which
 * carries no controller we can delegate): what the core interface files do — create, procs,
 * cgroup.freeze, cgroup.kill, cgroup.events. Resource controllers need a pure-v2 host.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  removeTestCgroups,
  requireRoot,
  testParentName,
  ticksOver,
  usesCpuWithin,
} from './cgroup-test-support.js';
import { createCgroupDriver } from './create-driver.js';
import { type CgroupLayout, detectCgroupLayout } from './layout.js';
import { delegateOfferedControllers, V2Driver } from './v2-driver.js';

describe('v2 cgroup driver (forced on this host cgroup2 mount)', function () {
  this.timeout(20_000);
  let layout: CgroupLayout;
  let parent: string;
  let driver: V2Driver;
  let processes: Processes;

  before(function () {
    requireRoot(this);
    const host = detectCgroupLayout();
    if (host.unified === undefined) {
      console.log('  skipped: this host has no cgroup2 mount');
      this.skip();
    }
    layout = { kind: 'v2', v1: {}, unified: host.unified, unifiedControllers: host.unifiedControllers };
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    const created = createCgroupDriver({ layout, parent });
    assert.ok(created instanceof V2Driver);
    driver = created;
  });

  afterEach(async () => {
    processes.killAll();
    await removeTestCgroups(parent);
  });

  function events(dir: string): string {
    return readFileSync(join(dir, 'cgroup.events'), 'utf8');
  }

  it('creates one unified directory, idempotently, and touches no v1 hierarchy', () => {
    const box = driver.create('box1');
    assert.deepEqual(driver.create('box1'), box);
    assert.equal(box.unifiedDir, join(layout.unified!, parent, 'box1'));
    assert.deepEqual(box.procsFiles, [join(layout.unified!, parent, 'box1', 'cgroup.procs')]);
    assert.deepEqual(box.v1Dirs, {});
    assert.ok(isDir(box.unifiedDir!));
    assert.deepEqual(
      parentDirsOnHost(parent).filter((dir) => !dir.startsWith(layout.unified!)),
      [],
    );
    assert.deepEqual(driver.get('box1'), box);
    assert.deepEqual(driver.list(), ['box1']);
  });

  it('puts a process in the box through its procs file, and cgroup.events says populated', () => {
    const box = driver.create('box1');
    assert.match(events(box.unifiedDir!), /^populated 0$/m);
    assert.equal(driver.isPopulated('box1'), false);
    const pid = pidOf(processes.sleeper());
    joinCgroup(box.procsFiles, pid);
    assert.deepEqual(driver.pids('box1'), [pid]);
    assert.equal(driver.isPopulated('box1'), true);
    assert.match(events(box.unifiedDir!), /^populated 1$/m);
  });

  it('freezes (cgroup.events frozen 1, no CPU time) and thaws', async () => {
    const box = driver.create('box1');
    const spinner = pidOf(processes.spinner());
    joinCgroup(box.procsFiles, spinner);
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins before freezing');
    await driver.freeze('box1');
    assert.match(events(box.unifiedDir!), /^frozen 1$/m);
    assert.equal(await ticksOver(spinner, 200), 0, 'no CPU time while frozen');
    await driver.thaw('box1');
    assert.match(events(box.unifiedDir!), /^frozen 0$/m);
    assert.ok(await usesCpuWithin(spinner, 2000), 'spins again after thaw');
  });

  it('kills the whole subtree through cgroup.kill, frozen tasks and forkers included', async () => {
    const box = driver.create('box1');
    const forker = processes.forker();
    joinCgroup(box.procsFiles, pidOf(forker));
    const nested = processes.sleeper();
    mkdirSync(join(box.unifiedDir!, 'inner'));
    writeFileSync(join(box.unifiedDir!, 'inner', 'cgroup.procs'), String(pidOf(nested)));
    await driver.freeze('box1');
    await driver.kill('box1');
    assert.equal(await exitSignal(forker), 'SIGKILL');
    assert.equal(await exitSignal(nested), 'SIGKILL');
    assert.match(events(box.unifiedDir!), /^populated 0$/m);
    assert.deepEqual(driver.pids('box1'), []);
    assert.equal(readFileSync(join(box.unifiedDir!, 'cgroup.freeze'), 'utf8').trim(), '0', 'left thawed for the next start');
  });

  it('removes the box deepest first, then removeParent() the parent, leaving nothing on the host', async () => {
    const box = driver.create('box1');
    joinCgroup(box.procsFiles, pidOf(processes.sleeper()));
    mkdirSync(join(box.unifiedDir!, 'inner'));
    await driver.remove('box1');
    driver.removeParent();
    assert.ok(!existsSync(join(CGROUP_ROOT, 'unified', parent)));
    assert.deepEqual(parentDirsOnHost(parent), []);
    await driver.remove('box1');
  });

  it('removeParent() keeps a parent that holds a box and removes one left empty', () => {
    const box = driver.create('box1');
    driver.removeParent();
    assert.ok(isDir(join(layout.unified!, parent)), 'kept while box1 is in it');
    rmdirSync(box.unifiedDir!);
    driver.removeParent();
    assert.deepEqual(parentDirsOnHost(parent), []);
  });

  it('reads core files, and says E_UNSUPPORTED for controllers absent or not delegated', () => {
    driver.create('box1');
    assert.equal(driver.read('box1', 'cgroup', 'cgroup.max.descendants').trim(), 'max');
    driver.write('box1', 'cgroup', 'cgroup.max.descendants', '5');
    assert.equal(driver.read('box1', 'cgroup', 'cgroup.max.descendants').trim(), '5');
    if (layout.unifiedControllers.includes('memory')) {
      // A pure cgroup2 host: the root delegates memory, our levels pass it on to the box.
      driver.write('box1', 'memory', 'memory.max', '1G');
      assert.equal(driver.read('box1', 'memory', 'memory.max').trim(), String(2 ** 30));
    } else {
      assert.throws(
        () => driver.write('box1', 'memory', 'memory.max', '1G'),
        (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && /'memory' is not available/.test(error.message),
      );
    }
    if (layout.unifiedControllers.includes('hugetlb')) {
      assert.throws(
        () => driver.write('box1', 'hugetlb', 'hugetlb.2MB.max', '0'),
        (error: unknown) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && /not delegated/.test(error.message),
      );
    }
  });
});

// This host's root delegates nothing, so the enabling is checked on files that stand for
// a parent level of a pure-v2 host (cgroup-v2.rst, 'Enabling and Disabling').
describe('v2 controller delegation to our parent levels', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-delegate-'));
    writeFileSync(join(dir, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    writeFileSync(join(dir, 'cgroup.subtree_control'), 'cpu memory\n');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('enables each offered controller not yet enabled, one write per controller', () => {
    const writes: string[] = [];
    delegateOfferedControllers(dir, (path, value) => writes.push(`${path}=${value}`));
    const file = join(dir, 'cgroup.subtree_control');
    assert.deepEqual(writes, [`${file}=+cpuset`, `${file}=+io`, `${file}=+pids`]);
  });

  it('keeps going when the kernel refuses one controller', () => {
    const writes: string[] = [];
    delegateOfferedControllers(dir, (_, value) => {
      if (value === '+cpuset') throw new Error('EBUSY');
      writes.push(value);
    });
    assert.deepEqual(writes, ['+io', '+pids']);
  });
});
