/**
 * The systemd driver against a real systemd as PID 1 (the VM lane's guest): each box a
 * transient scope with a delegated subtree, made and removed through systemd's D-Bus API.
 * Skips, saying so, where PID 1 is not systemd (this machine).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitSignal, isDir, joinCgroup, Processes, pidOf, requireRoot, testParentName, usesCpuWithin } from './cgroup-test-support.js';
import { createCgroupDriver } from './create-driver.js';
import { ioCostEnabled } from './io-cost.js';
import { detectCgroupLayout } from './layout.js';
import { ioWeightForBfq } from './scope-properties.js';
import { systemdIsInit } from './systemd-bus.js';
import { SystemdDriver } from './systemd-driver.js';

/** A property of a unit as systemctl shows it ('' for a unit systemd does not know). */
function unitProperty(unit: string, property: string): string {
  return execFileSync('systemctl', ['show', '--property', property, '--value', unit], { encoding: 'utf8' }).trim();
}

function cgroupOf(pid: number): string {
  return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
}

describe('systemd cgroup driver (systemd as PID 1)', function () {
  this.timeout(30_000);
  let parent: string;
  let driver: SystemdDriver;
  let processes: Processes;

  before(function () {
    requireRoot(this);
    if (!systemdIsInit() || detectCgroupLayout().kind !== 'v2') {
      console.log('  skipped: PID 1 is not systemd on a pure cgroup2 host (the VM lane runs this suite)');
      this.skip();
    }
  });

  beforeEach(() => {
    parent = testParentName();
    processes = new Processes();
    const created = createCgroupDriver({ parent });
    assert.ok(created instanceof SystemdDriver, 'chosen by itself when systemd is PID 1');
    driver = created;
  });

  afterEach(async () => {
    processes.killAll();
    // Through systemd, whatever the test left: its boxes' scopes, then its slice.
    for (const name of driver.list()) await driver.remove(name);
    driver.removeParent();
    assert.ok(!isDir(driver.sliceDir()), `the test slice ${driver.sliceDir()} is gone`);
  });

  it('makes each box a delegated scope in the parent slice, known to systemd, every controller passed down', () => {
    const box = driver.create('box-1');
    const scope = driver.scope('box-1');
    assert.equal(unitProperty(scope, 'ActiveState'), 'active');
    assert.equal(unitProperty(scope, 'Delegate'), 'yes');
    assert.equal(unitProperty(scope, 'Slice'), `${parent.replaceAll('-', '\\x2d')}.slice`);
    assert.equal(box.unifiedDir, join(driver.scopeDir('box-1'), 'box'));
    assert.deepEqual(box.procsFiles, [join(box.unifiedDir!, 'cgroup.procs')]);
    const offered = readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').trim().split(/\s+/);
    const boxControllers = readFileSync(join(box.unifiedDir!, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    for (const controller of ['cpu', 'io', 'memory', 'pids', 'cpuset']) {
      if (offered.includes(controller)) assert.ok(boxControllers.includes(controller), `${controller} reaches the box (it has ${boxControllers})`);
    }
    assert.deepEqual(driver.create('box-1'), box, 'idempotent');
    assert.deepEqual(driver.list(), ['box-1']);
    assert.deepEqual(driver.get('box-1'), box);
    assert.deepEqual(driver.pids('box-1'), [], 'the process that holds the scope is not one of the box');
  });

  it('holds a box process in box/, writes its knobs there, freezes and kills it, the scope staying', async () => {
    const box = driver.create('box1');
    const spinnerChild = processes.spinner();
    const spinner = pidOf(spinnerChild);
    joinCgroup(box.procsFiles, spinner);
    assert.equal(cgroupOf(spinner), `/${parent.replaceAll('-', '\\x2d')}.slice/${driver.scope('box1')}/box`);
    assert.deepEqual(driver.pids('box1'), [spinner]);
    assert.equal(driver.isPopulated('box1'), true);
    driver.write('box1', 'memory', 'memory.max', String(64 * 2 ** 20));
    assert.equal(driver.read('box1', 'memory', 'memory.max').trim(), String(64 * 2 ** 20));
    driver.write('box1', 'pids', 'pids.max', '50');
    assert.equal(driver.read('box1', 'pids', 'pids.max').trim(), '50');
    await driver.freeze('box1');
    assert.match(readFileSync(join(box.unifiedDir!, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
    await driver.thaw('box1');
    assert.ok(await usesCpuWithin(spinner, 5000), 'runs again after thaw');
    await driver.kill('box1');
    assert.equal(await exitSignal(spinnerChild), 'SIGKILL');
    assert.equal(driver.isPopulated('box1'), false);
    assert.equal(unitProperty(driver.scope('box1'), 'ActiveState'), 'active', 'an empty box keeps its scope until it is removed');
  });

  it('keeps the limits of a box through a daemon-reload: systemd leaves the delegated subtree alone', () => {
    const box = driver.create('steady');
    const sleeper = pidOf(processes.sleeper());
    joinCgroup(box.procsFiles, sleeper);
    driver.write('steady', 'memory', 'memory.max', String(32 * 2 ** 20));
    mkdirSync(join(box.unifiedDir!, 'nested'));
    execFileSync('systemctl', ['daemon-reload']);
    assert.equal(driver.read('steady', 'memory', 'memory.max').trim(), String(32 * 2 ** 20));
    assert.ok(isDir(join(box.unifiedDir!, 'nested')), "the box's own cgroups stay");
    assert.deepEqual(driver.pids('steady'), [sleeper]);
  });

  it('sets the weights and protections on the scope as its unit properties, where they stay through a daemon-reload', async () => {
    const box = driver.create('weighed');
    joinCgroup(box.procsFiles, pidOf(processes.sleeper()));
    const scope = driver.scope('weighed');
    const scopeDir = driver.scopeDir('weighed');
    const file = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8').trim();
    const MiB = 2 ** 20;
    driver.write('weighed', 'cpu', 'cpu.weight', '300');
    driver.write('weighed', 'memory', 'memory.low', String(64 * MiB));
    driver.write('weighed', 'memory', 'memory.min', String(16 * MiB));
    const io = existsSync(join(scopeDir, 'io.weight'));
    if (io) driver.write('weighed', 'io', 'io.weight', 'default 300');
    // Where BFQ weighs IO, IOWeight is the one systemd maps to BFQ's 300 (see the BFQ test below).
    const ioWeight = existsSync(join(scopeDir, 'io.bfq.weight')) && !ioCostEnabled(driver.mount) ? String(ioWeightForBfq(300)) : '300';
    assert.deepEqual(box.fileDirs?.['cpu.weight'], scopeDir, 'the box says where its weight lives');
    const check = (when: string) => {
      assert.equal(unitProperty(scope, 'CPUWeight'), '300', `systemd's CPUWeight ${when}`);
      assert.equal(unitProperty(scope, 'MemoryLow'), String(64 * MiB), `MemoryLow ${when}`);
      assert.equal(unitProperty(scope, 'MemoryMin'), String(16 * MiB), `MemoryMin ${when}`);
      assert.equal(file(scopeDir, 'cpu.weight'), '300', `the scope's cpu.weight ${when}`);
      assert.equal(file(scopeDir, 'memory.low'), String(64 * MiB), `the scope's memory.low ${when}`);
      assert.equal(file(scopeDir, 'memory.min'), String(16 * MiB), `the scope's memory.min ${when}`);
      assert.equal(file(box.unifiedDir!, 'memory.low'), String(64 * MiB), `the leaf's memory.low ${when} (its pages are there)`);
      assert.equal(driver.read('weighed', 'cpu', 'cpu.weight').trim(), '300', `read where it lives ${when}`);
      if (io) {
        assert.equal(unitProperty(scope, 'IOWeight'), ioWeight, `IOWeight ${when}`);
        assert.match(file(scopeDir, 'io.weight'), new RegExp(`^default ${ioWeight}$`, 'm'), `the scope's io.weight ${when}`);
      }
    };
    check('once written');
    assert.equal(file(box.unifiedDir!, 'cpu.weight'), '100', 'the leaf keeps the default: its only sibling is the idle holder');
    execFileSync('systemctl', ['daemon-reload']);
    check('after a daemon-reload');
    driver.write('weighed', 'cpu', 'cpu.weight', '100');
    driver.write('weighed', 'memory', 'memory.low', '0');
    assert.equal(unitProperty(scope, 'CPUWeight'), '100', 'a reset goes through systemd too');
    assert.equal(file(scopeDir, 'memory.low'), '0');
    driver.write('weighed', 'cpu', 'cpu.weight', '700');
    await driver.remove('weighed');
    driver.create('weighed');
    assert.equal(file(scopeDir, 'cpu.weight'), '100', 'a box made again under the same name starts from the defaults (no drop-in left)');
  });

  it("keeps nsbox's BFQ weight on the scope through a daemon-reload and a sibling's start: systemd writes that weight itself", function () {
    // BFQ's file shows only once its module is in; Debian's kernel has it as a module.
    spawnSync('modprobe', ['bfq'], { stdio: 'ignore' });
    const box = driver.create('bfq');
    joinCgroup(box.procsFiles, pidOf(processes.sleeper()));
    const scopeDir = driver.scopeDir('bfq');
    if (!existsSync(join(scopeDir, 'io.bfq.weight'))) {
      console.log('      skipped: this kernel has no BFQ (no io.bfq.weight on the scope)');
      this.skip();
    }
    const bfq = (when: string) => {
      // A call systemd answers only after it has realized what it queued (its loop realizes cgroups first).
      unitProperty(driver.scope('bfq'), 'IOWeight');
      assert.match(readFileSync(join(scopeDir, 'io.bfq.weight'), 'utf8'), /^default 300$/m, `the scope's io.bfq.weight ${when}`);
      assert.equal(driver.read('bfq', 'io', 'io.bfq.weight').split('\n')[0], 'default 300', `read where it lives ${when}`);
    };
    // As the resource plan writes a weight of 300: io.weight, then BFQ's own file.
    driver.write('bfq', 'io', 'io.weight', 'default 300');
    driver.write('bfq', 'io', 'io.bfq.weight', 'default 300');
    bfq('once written');
    execFileSync('systemctl', ['daemon-reload']);
    bfq('after a daemon-reload (systemd writes it again from IOWeight)');
    driver.create('sibling');
    bfq("after a sibling's scope joined the slice");
  });

  it('removes box, scope and holder process, and removeParent() the slice, leaving systemd nothing of them', async () => {
    const box = driver.create('gone');
    const sleeper = processes.sleeper();
    joinCgroup(box.procsFiles, pidOf(sleeper));
    mkdirSync(join(box.unifiedDir!, 'inner'));
    const anchor = Number(readFileSync(join(driver.scopeDir('gone'), 'anchor', 'cgroup.procs'), 'utf8').trim());
    assert.ok(anchor > 0, 'a process holds the scope');
    await driver.remove('gone');
    assert.equal(await exitSignal(sleeper), 'SIGKILL');
    assert.ok(!existsSync(driver.scopeDir('gone')));
    assert.equal(unitProperty(driver.scope('gone'), 'LoadState'), 'not-found', 'systemd forgot the scope');
    // systemd killed the holder with its scope; this process (its parent) reaps it.
    const deadline = Date.now() + 5000;
    while (existsSync(`/proc/${anchor}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!existsSync(`/proc/${anchor}`), 'the holder is gone');
    await driver.remove('gone');
    driver.removeParent();
    assert.ok(!isDir(driver.sliceDir()));
  });

  it('makes the scope again when its holder died while the box was empty', () => {
    driver.create('again');
    const anchor = Number(readFileSync(join(driver.scopeDir('again'), 'anchor', 'cgroup.procs'), 'utf8').trim());
    process.kill(anchor, 'SIGKILL');
    // systemd collects the emptied scope and removes its cgroups.
    const deadline = Date.now() + 10_000;
    while (existsSync(driver.scopeDir('again')) && Date.now() < deadline) spawnSync('sleep', ['0.1']);
    assert.equal(driver.get('again'), undefined);
    const box = driver.create('again');
    assert.ok(isDir(box.unifiedDir!));
    assert.equal(unitProperty(driver.scope('again'), 'ActiveState'), 'active');
  });

  it('keeps two parents apart whose names differ only by a dash', () => {
    const other = new SystemdDriver(driver.layout, `${parent}-x`);
    try {
      driver.create('x-b');
      other.create('b');
      assert.deepEqual(driver.list(), ['x-b']);
      assert.deepEqual(other.list(), ['b']);
      assert.notEqual(driver.scope('x-b'), other.scope('b'));
    } finally {
      spawnSync('systemctl', ['stop', other.scope('b')]);
      other.removeParent();
    }
  });

  it('has no process of its own left behind once a box is gone (no zombie holder)', async () => {
    driver.create('z');
    const anchor = Number(readFileSync(join(driver.scopeDir('z'), 'anchor', 'cgroup.procs'), 'utf8').trim());
    await driver.remove('z');
    const deadline = Date.now() + 5000;
    while (existsSync(`/proc/${anchor}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!existsSync(`/proc/${anchor}`), 'reaped, not a zombie');
  });
});
