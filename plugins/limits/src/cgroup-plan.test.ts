import assert from 'node:assert/strict';
import { NsboxError } from '@nsbox/core';
import { CgroupLimits, orderMemoryWrites } from './cgroup-limits.js';
import { type CgroupWrite, type Flavor, type PlanContext, planCgroupWrites, sharesToWeight, throttledDevices, weightToShares } from './cgroup-plan.js';
import type { LimitsConfig } from './config-schema.js';
import { HostFacts } from './host-facts.js';
import type { CgroupAccess, CgroupLayoutView } from './host-services.js';
import { hostProblems } from './limits-checks.js';

const MiB = 2 ** 20;

function context(flavor: Flavor, throttled: Record<string, string[]> = {}): PlanContext {
  return {
    flavor: () => flavor,
    parentCpus: '0-3',
    parentMems: '0',
    devices: new Map([['/dev/vdb', '254:16']]),
    throttled: new Map(Object.entries(throttled).map(([file, devices]) => [file, new Set(devices)])),
  };
}

function byFile(writes: CgroupWrite[]): Record<string, string> {
  return Object.fromEntries(writes.map((write) => [`${write.file}${write.required ? '' : ' (reset)'}`, write.value]));
}

const full: LimitsConfig = {
  cpus: 1.5,
  cpuWeight: 200,
  cpuset: '0-1',
  memory: 512 * MiB,
  memoryHigh: 256 * MiB,
  swap: 128 * MiB,
  pids: 200,
  io: [{ device: '/dev/vdb', writeBps: 10 * MiB, readIops: 500 }],
};

describe('limits: cgroup files for v1 and v2', () => {
  it('writes v1 files: cfs quota, shares, cpuset, memory + memsw, pids, blkio throttles', () => {
    assert.deepEqual(byFile(planCgroupWrites(full, context('v1', { 'blkio.throttle.read_bps_device': ['7:0'] }))), {
      'cpu.cfs_period_us': '100000',
      'cpu.cfs_quota_us': '150000',
      'cpu.shares': '2048',
      'cpuset.cpus': '0-1',
      'cpuset.mems (reset)': '0',
      'memory.limit_in_bytes': String(512 * MiB),
      'memory.soft_limit_in_bytes': String(256 * MiB),
      'memory.memsw.limit_in_bytes': String(640 * MiB),
      'pids.max': '200',
      'blkio.throttle.read_bps_device (reset)': '7:0 0',
      'blkio.throttle.write_bps_device': '254:16 10485760',
      'blkio.throttle.read_iops_device': '254:16 500',
    });
  });

  it('writes v2 files: cpu.max, cpu.weight, memory.max/high/swap.max, pids.max, io.max', () => {
    assert.deepEqual(byFile(planCgroupWrites(full, context('v2', { 'io.max': ['7:0', '254:16'] }))), {
      'cpu.max': '150000 100000',
      'cpu.weight': '200',
      'cpuset.cpus': '0-1',
      'cpuset.mems (reset)': '0',
      'memory.max': String(512 * MiB),
      'memory.high': String(256 * MiB),
      'memory.swap.max': String(128 * MiB),
      'pids.max': '200',
      'io.max': '254:16 rbps=max wbps=10485760 riops=500 wiops=max',
      'io.max (reset)': '7:0 rbps=max wbps=max riops=max wiops=max',
    });
  });

  it('writes every field back to "no limit" when the section is empty', () => {
    assert.deepEqual(byFile(planCgroupWrites({}, context('v1'))), {
      'cpu.cfs_period_us (reset)': '100000',
      'cpu.cfs_quota_us (reset)': '-1',
      'cpu.shares (reset)': '1024',
      'cpuset.cpus (reset)': '0-3',
      'cpuset.mems (reset)': '0',
      'memory.limit_in_bytes (reset)': '-1',
      'memory.soft_limit_in_bytes (reset)': '-1',
      'memory.memsw.limit_in_bytes (reset)': '-1',
      'pids.max (reset)': 'max',
    });
    assert.equal(byFile(planCgroupWrites({}, context('v2')))['memory.max (reset)'], 'max');
  });

  it('gives a box whose memory is limited no swap unless the section says how much', () => {
    assert.equal(byFile(planCgroupWrites({ memory: 64 * MiB }, context('v2')))['memory.swap.max (reset)'], '0');
    assert.equal(byFile(planCgroupWrites({ memory: 64 * MiB }, context('v1')))['memory.memsw.limit_in_bytes (reset)'], String(64 * MiB));
    assert.equal(byFile(planCgroupWrites({ memory: 64 * MiB, swap: 32 * MiB }, context('v2')))['memory.swap.max'], String(32 * MiB));
    assert.equal(byFile(planCgroupWrites({}, context('v2')))['memory.swap.max (reset)'], 'max', 'no memory limit, no swap limit');
  });

  it("writes the host's default pids limit where the section sets none, without requiring a pids controller", () => {
    const withDefault = { ...context('v2'), defaultPids: 4096 };
    assert.deepEqual(
      planCgroupWrites({}, withDefault).filter((write) => write.file === 'pids.max'),
      [{ field: 'pids', controller: 'pids', file: 'pids.max', value: '4096', required: false }],
    );
    assert.equal(byFile(planCgroupWrites({ pids: 100 }, withDefault))['pids.max'], '100', "the box's own limit wins");
  });

  it('keeps memory ≤ memsw at every step on v1', () => {
    const writes = planCgroupWrites({ memory: 512 * MiB, swap: 0 }, context('v1'));
    const order = (current: string) =>
      orderMemoryWrites(writes, current)
        .map((write) => write.file)
        .filter((file) => file.startsWith('memory.') && file !== 'memory.soft_limit_in_bytes');
    assert.deepEqual(order(String(1024 * MiB)), ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'], 'lowering: memory first');
    assert.deepEqual(order(String(256 * MiB)), ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes'], 'raising past memsw: memsw first');
  });

  it('maps CPU weight to v1 shares the way systemd does, and reads throttle files', () => {
    assert.equal(weightToShares(100), 1024);
    assert.equal(weightToShares(1), 10);
    assert.equal(sharesToWeight(2048), 200);
    assert.deepEqual(
      [...throttledDevices('7:0 4194304\n254:0 rbps=max wbps=max riops=max wiops=max\n8:0 rbps=1 wbps=max riops=max wiops=max\n')],
      ['7:0', '8:0'],
    );
  });
});

/** A cgroup driver that only shows a layout: enough for the checks made before any box. */
function hostWith(layout: CgroupLayoutView): CgroupLimits {
  const driver = { layout, parent: 'nsbox' } as CgroupAccess;
  return new CgroupLimits(driver);
}

class TwoCpuHost extends HostFacts {
  override onlineCpus(): number[] {
    return [0, 1];
  }
  override hasCapability(): boolean {
    return false;
  }
  override rlimitCeilings() {
    return { nofile: { soft: 20_000, hard: 20_000 }, core: { soft: 0, hard: 'unlimited' as const } };
  }
}

describe('limits: checks against the host', () => {
  const v2 = hostWith({ kind: 'v2', v1: {}, unified: '/sys/fs/cgroup', unifiedControllers: ['cpu', 'memory', 'pids'] });

  it('picks each controller from the layout, hybrid hosts mixing v1 and v2', () => {
    const hybrid = hostWith({ kind: 'hybrid', v1: { cpu: '/c', memory: '/m', pids: '/p' }, unified: '/u', unifiedControllers: ['io'] });
    assert.equal(hybrid.flavor('memory'), 'v1');
    assert.equal(hybrid.flavor('io'), 'v2');
    assert.equal(hybrid.flavor('cpuset'), undefined);
    assert.equal(v2.flavor('cpu'), 'v2');
  });

  it('refuses what the host cannot enforce, saying why', () => {
    const problems = hostProblems(
      { cpuset: '0-7', cpus: 4, rlimits: { nofile: { soft: 1, hard: 30_000 }, core: { soft: 0, hard: 'unlimited' } } },
      new TwoCpuHost(),
      v2,
    );
    assert.deepEqual(
      problems.map((problem) => `${problem.kind} ${problem.field}: ${problem.message}`),
      [
        'invalid limits.cpuset: CPU 2-7 does not exist on this host (it has 0-1)',
        'invalid limits.cpus: 4 is more CPUs than this host has (2)',
        "invalid limits.rlimits.nofile: hard limit 30000 is above this host's ceiling of 20000: raising a hard limit needs CAP_SYS_RESOURCE, which root lacks here",
        'unsupported limits.cpuset: cannot be enforced: this host has no cpuset cgroup controller (mounted: cpu (v2), memory (v2), pids (v2))',
      ],
    );
    assert.deepEqual(
      hostProblems({ io: [{ device: '/dev/nsbox-test-none', writeBps: 1 }] }, new TwoCpuHost(), v2).map((problem) => problem.message),
      [
        '/dev/nsbox-test-none is not a block device on this host',
        'cannot be enforced: this host has no blkio (v1) or io (v2) cgroup controller (mounted: cpu (v2), memory (v2), pids (v2))',
      ],
    );
  });
});

describe('limits: applying a section through the cgroup driver', () => {
  /** A v2 host whose box cgroup has the files in `files` (others: E_UNSUPPORTED, as the runtime says). */
  function v2Box(files: string[]) {
    const written: string[] = [];
    const read = (_name: string, controller: string, file: string) => {
      if (!files.includes(file)) throw new NsboxError('E_UNSUPPORTED', `cgroup controller '${controller}' has no file ${file} on this kernel`);
      return '';
    };
    const driver = {
      layout: { kind: 'v2', v1: {}, unified: '/u', unifiedControllers: ['cpu', 'memory', 'pids'] },
      parent: 'nsbox',
      read,
      write(name: string, controller: string, file: string, value: string) {
        read(name, controller, file);
        written.push(`${file}=${value}`);
      },
    } as unknown as CgroupAccess;
    return { limits: new CgroupLimits(driver), written };
  }

  it('writes what the section sets and resets the rest where the host has it', () => {
    const { limits, written } = v2Box(['cpu.max', 'cpu.weight', 'memory.max', 'memory.high', 'pids.max']);
    limits.apply({ id: 'b' }, { cpus: 0.5, memory: 64 * MiB }, new Map());
    assert.deepEqual(written, ['cpu.max=50000 100000', 'cpu.weight=100', 'memory.max=67108864', 'memory.high=max', 'pids.max=max']);
  });

  it('refuses a limit whose file the kernel lacks, naming the field', () => {
    const { limits } = v2Box(['cpu.max', 'cpu.weight', 'memory.max', 'memory.high', 'pids.max']);
    assert.throws(
      () => limits.apply({ id: 'b' }, { swap: 0 }, new Map()),
      (error: NsboxError) => error.code === 'E_UNSUPPORTED' && /^limits\.swap cannot be enforced on this host: .*memory\.swap\.max/.test(error.message),
    );
  });
});
