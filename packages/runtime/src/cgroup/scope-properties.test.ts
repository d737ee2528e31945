/**
 * Where the systemd driver puts the knobs that weigh boxes against each other: the scope's
 * unit properties (through a recorded bus: the seam) and the scope's files, in a cgroup tree
 * of the test's own. The same against a real systemd: systemd-driver.test.ts, in the VM lane.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { BoxCgroupManager } from './cgroup-manager.js';
import { ioWeightForBfq, isScopeFile, systemdBfqWeight, unitPropertyOf } from './scope-properties.js';
import type { BusCall } from './systemd-bus.js';
import { SystemdDriver } from './systemd-driver.js';

describe('systemd driver: weights and protections on the scope', () => {
  it('maps each scope file to its unit property as runc and crun do, in the unit systemd takes', () => {
    assert.deepEqual(unitPropertyOf('cpu.weight', '300'), { name: 'CPUWeight', type: 't', value: '300' });
    assert.deepEqual(unitPropertyOf('io.weight', 'default 300'), { name: 'IOWeight', type: 't', value: '300' });
    assert.deepEqual(unitPropertyOf('io.weight', '25'), { name: 'IOWeight', type: 't', value: '25' });
    assert.deepEqual(unitPropertyOf('memory.low', '67108864'), { name: 'MemoryLow', type: 't', value: '67108864' });
    assert.deepEqual(unitPropertyOf('memory.min', '0'), { name: 'MemoryMin', type: 't', value: '0' });
    assert.deepEqual(unitPropertyOf('memory.low', 'max'), { name: 'MemoryLow', type: 't', value: '18446744073709551615' });
    assert.equal(unitPropertyOf('io.bfq.weight', 'default 300'), undefined, 'no property of its own: written as a file');
    assert.equal(unitPropertyOf('memory.max', '1'), undefined, 'a limit stays in the leaf');
    for (const file of ['cpu.weight', 'io.weight', 'io.bfq.weight', 'memory.low', 'memory.min']) assert.ok(isScopeFile(file), file);
    for (const file of ['cpu.max', 'cpu.max.burst', 'memory.max', 'memory.high', 'io.max', 'pids.max', 'cpuset.cpus']) assert.ok(!isScopeFile(file), file);
  });

  it('inverts systemd’s BFQ scale exactly: every BFQ weight 1-1000 comes back from its IOWeight', () => {
    // systemd's BFQ_WEIGHT, integer division: 300 → 118, and 2300-2310 all → 300.
    assert.deepEqual([systemdBfqWeight(300), systemdBfqWeight(2310), systemdBfqWeight(2311), systemdBfqWeight(10_000)], [118, 300, 301, 1000]);
    for (let bfq = 1; bfq <= 1000; bfq++) {
      const ioWeight = ioWeightForBfq(bfq);
      assert.ok(ioWeight >= 1 && ioWeight <= 10_000, `IOWeight ${ioWeight} for ${bfq} is in systemd's range`);
      assert.equal(systemdBfqWeight(ioWeight), bfq, `BFQ ${bfq} → IOWeight ${ioWeight} → BFQ`);
    }
  });

  it('refuses a value with no property form, naming the file', () => {
    for (const [file, value] of [
      ['cpu.weight', '0'],
      ['cpu.weight', '10001'],
      ['io.weight', '8:0 200'],
      ['memory.low', '64M'],
    ] as const) {
      assert.throws(
        () => unitPropertyOf(file, value),
        (error: NsboxError) => isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT' && error.details['field'] === file,
        `${file} = ${value}`,
      );
    }
  });

  describe('in a cgroup tree of the test’s own', () => {
    let root: string;
    let calls: { method: string; args: string[] }[];
    let refuse: boolean;
    let driver: SystemdDriver;
    let scopeDir: string;
    let leaf: string;
    const file = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');
    const bus: BusCall = (method, _signature, args) => {
      calls.push({ method, args });
      return refuse ? { ok: false, stdout: '', stderr: 'Access denied' } : { ok: true, stdout: '', stderr: '' };
    };

    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'nsbox-test-scope-'));
      calls = [];
      refuse = false;
      driver = new SystemdDriver({ kind: 'v2', v1: {}, unified: root, unifiedControllers: ['cpu', 'io', 'memory', 'pids'] }, 'nsbox', bus);
      scopeDir = driver.scopeDir('web');
      leaf = driver.boxDir('web');
      mkdirSync(leaf, { recursive: true });
      for (const dir of [scopeDir, leaf]) {
        writeFileSync(join(dir, 'cgroup.controllers'), 'cpu io memory pids\n');
        for (const [name, value] of Object.entries({
          'cpu.weight': '100',
          'cpu.max': 'max 100000',
          'io.weight': 'default 100',
          'io.bfq.weight': 'default 100',
          'memory.low': '0',
          'memory.min': '0',
          'memory.max': 'max',
        }))
          writeFileSync(join(dir, name), `${value}\n`);
      }
    });

    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('sets a weight as the scope’s property and file, leaving the leaf’s, and reads it from the scope', () => {
      driver.write('web', 'cpu', 'cpu.weight', '300');
      assert.deepEqual(calls, [{ method: 'SetUnitProperties', args: ['nsbox-web.scope', 'true', '1', 'CPUWeight', 't', '300'] }]);
      assert.equal(file(scopeDir, 'cpu.weight'), '300');
      assert.equal(file(leaf, 'cpu.weight'), '100\n', 'the leaf keeps the default');
      assert.equal(driver.read('web', 'cpu', 'cpu.weight'), '300');
      assert.deepEqual(driver.get('web')?.fileDirs?.['cpu.weight'], scopeDir, 'the box says where to read it');
      assert.equal(driver.get('web')?.unifiedDir, leaf);
    });

    it('where BFQ weighs IO, sets the IOWeight systemd maps to nsbox’s BFQ weight, and writes the files as systemd will', () => {
      driver.write('web', 'io', 'io.weight', 'default 300');
      assert.deepEqual(calls[0]?.args.slice(3), ['IOWeight', 't', '2300']);
      assert.equal(file(scopeDir, 'io.weight'), 'default 2300', 'what systemd writes from IOWeight');
      assert.equal(file(scopeDir, 'io.bfq.weight'), 'default 300', 'systemd’s BFQ weight for 2300: nsbox’s 300');
      driver.write('web', 'io', 'io.weight', 'default 5000');
      assert.deepEqual(calls[1]?.args.slice(3), ['IOWeight', 't', '10000'], 'BFQ stops at 1000, which systemd writes for 10000');
      assert.equal(file(scopeDir, 'io.bfq.weight'), 'default 1000');
      driver.write('web', 'io', 'io.weight', '40');
      assert.deepEqual(calls[2]?.args.slice(3), ['IOWeight', 't', '40'], 'up to 100 both scales are the weight');
      driver.write('web', 'io', 'io.bfq.weight', 'default 40');
      assert.equal(calls.length, 3, 'io.bfq.weight has no property: the file only');
      assert.equal(file(leaf, 'io.bfq.weight'), 'default 100\n', 'the leaf keeps the default');
    });

    it('where io.cost weighs IO, or BFQ is absent, sets IOWeight to the weight itself', () => {
      writeFileSync(join(root, 'io.cost.qos'), '8:0 enable=1 ctrl=auto rpct=0.00 rlat=250000 wpct=0.00 wlat=250000 min=1.00 max=10000.00\n');
      driver.write('web', 'io', 'io.weight', 'default 300');
      assert.deepEqual(calls[0]?.args.slice(3), ['IOWeight', 't', '300']);
      assert.equal(file(scopeDir, 'io.weight'), 'default 300');
      writeFileSync(join(root, 'io.cost.qos'), '8:0 enable=0 ctrl=auto rpct=0.00 rlat=250000 wpct=0.00 wlat=250000 min=1.00 max=10000.00\n');
      rmSync(join(scopeDir, 'io.bfq.weight'));
      driver.write('web', 'io', 'io.weight', 'default 300');
      assert.deepEqual(calls[1]?.args.slice(3), ['IOWeight', 't', '300'], 'no BFQ file (its module not loaded)');
    });

    it('through the arbitration: an IO weight of 300 is systemd’s 2300 on the scope and reads back as the 300 BFQ enforces', () => {
      const manager = new BoxCgroupManager(driver);
      const box = { id: 'web' };
      manager.apply(box, 'sharing', { io: { weight: 300 } });
      assert.deepEqual(
        calls.map((call) => call.args.slice(3).join(' ')),
        ['IOWeight t 2300'],
      );
      assert.equal(file(scopeDir, 'io.bfq.weight'), 'default 300');
      assert.equal(manager.effective(box)?.io?.weight, 300);
    });

    it('sets a protection on the scope and on the leaf that holds the box’s pages', () => {
      driver.write('web', 'memory', 'memory.low', String(64 * 2 ** 20));
      driver.write('web', 'memory', 'memory.min', String(16 * 2 ** 20));
      assert.deepEqual(
        calls.map((call) => call.args.slice(3)),
        [
          ['MemoryLow', 't', String(64 * 2 ** 20)],
          ['MemoryMin', 't', String(16 * 2 ** 20)],
        ],
      );
      for (const dir of [scopeDir, leaf]) {
        assert.equal(file(dir, 'memory.low'), String(64 * 2 ** 20));
        assert.equal(file(dir, 'memory.min'), String(16 * 2 ** 20));
      }
    });

    it('keeps limits in the leaf, without systemd', () => {
      driver.write('web', 'memory', 'memory.max', '1048576');
      driver.write('web', 'cpu', 'cpu.max', '50000 100000');
      assert.deepEqual(calls, []);
      assert.equal(file(leaf, 'memory.max'), '1048576');
      assert.equal(file(scopeDir, 'memory.max'), 'max\n');
      assert.equal(driver.read('web', 'cpu', 'cpu.max'), '50000 100000');
    });

    it('through the arbitration: declared knobs and raw unified files reach the scope, and what is enforced is read there', () => {
      const manager = new BoxCgroupManager(driver);
      const box = { id: 'web' };
      manager.apply(box, 'sharing', { cpu: { weight: 300 }, memory: { reservation: 64 * 2 ** 20 }, unified: { 'memory.min': String(2 ** 20) } });
      assert.deepEqual(
        calls.map((call) => call.args.slice(3).join(' ')),
        ['CPUWeight t 300', `MemoryLow t ${64 * 2 ** 20}`, `MemoryMin t ${2 ** 20}`],
      );
      assert.equal(file(leaf, 'cpu.weight'), '100\n');
      const effective = manager.effective(box);
      assert.equal(effective?.cpu?.weight, 300);
      assert.equal(effective?.memory?.reservation, 64 * 2 ** 20);
      assert.deepEqual(effective?.unified, { 'memory.min': String(2 ** 20) });
      manager.withdraw(box, 'sharing');
      assert.equal(calls.at(-1)?.args.slice(3).join(' '), 'MemoryLow t 0', 'a withdrawn protection goes back to none through systemd');
      assert.equal(file(scopeDir, 'cpu.weight'), '100');
    });

    it('leaves the file alone and says why when systemd refuses the property', () => {
      refuse = true;
      assert.throws(
        () => driver.write('web', 'cpu', 'cpu.weight', '300'),
        (error: NsboxError) => isNsboxError(error) && error.code === 'E_RUNTIME' && /CPUWeight=300/.test(error.message) && /Access denied/.test(error.message),
      );
      assert.equal(file(scopeDir, 'cpu.weight'), '100\n');
    });
  });
});
