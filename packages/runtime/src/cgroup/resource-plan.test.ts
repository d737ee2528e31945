/** The files that carry merged knobs on v1 and v2, and the diff that writes only what changed (pure). */

import assert from 'node:assert/strict';
import type { NsboxError } from '@nsbox/core';
import type { BoxResources } from '@nsbox/runtime-api';
import { mergeDeclarations } from './resource-merge.js';
import { diffPlans, type Flavor, type PlannedWrite, planWrites, sharesToWeight, weightToBlkio, weightToShares } from './resource-plan.js';

const MiB = 2 ** 20;

function plan(resources: BoxResources, flavor: Flavor | ((controller: string) => Flavor | undefined), ...ioWeightFiles: string[]): PlannedWrite[] {
  return planWrites(mergeDeclarations({ test: { resources } }), {
    flavor: (controller) => (typeof flavor === 'function' ? flavor(controller) : flavor),
    mounted: () => 'cpu (v1)',
    parentCpuset: (file) => (file === 'cpuset.cpus' ? '0-3' : '0'),
    ioWeightFiles: () => ioWeightFiles,
  });
}

function byFile(writes: PlannedWrite[]): Record<string, string> {
  return Object.fromEntries(writes.map((write) => [write.id, write.value]));
}

const full: BoxResources = {
  cpu: { quota: 150_000, weight: 200, cpus: '0-1' },
  memory: { max: 512 * MiB, high: 256 * MiB, swap: 128 * MiB },
  pids: { max: 200 },
  io: { throttle: [{ device: '254:16', writeBps: 10 * MiB, readIops: 500 }] },
};

describe('resource arbitration: files for v1 and v2', () => {
  it('writes the cpu burst (v1 cfs_burst_us, v2 cpu.max.burst), held to the merged quota, shrinking before the quota and growing after it', () => {
    const merged = (burst: number, quota?: number) =>
      planWrites(
        mergeDeclarations({ sharing: { resources: { cpu: { quota: 50_000, burst } } }, ...(quota ? { limits: { resources: { cpu: { quota } } } } : {}) }),
        {
          flavor: () => 'v1',
          mounted: () => 'cpu (v1)',
          parentCpuset: () => '0',
          ioWeightFiles: () => [],
        },
      );
    assert.equal(byFile(plan({ cpu: { quota: 50_000, burst: 20_000 } }, 'v1'))['cpu/cpu.cfs_burst_us'], '20000');
    assert.equal(byFile(plan({ cpu: { quota: 50_000, burst: 20_000 } }, 'v2'))['cpu/cpu.max.burst'], '20000');
    assert.equal(byFile(merged(40_000, 30_000))['cpu/cpu.cfs_burst_us'], '30000', 'never above the stricter owner’s quota');
    const before = merged(40_000);
    const ids = (writes: PlannedWrite[]) => writes.map((write) => write.id).filter((id) => id.includes('quota') || id.includes('burst'));
    assert.deepEqual(ids(diffPlans(before, merged(40_000, 30_000))), ['cpu/cpu.cfs_burst_us', 'cpu/cpu.cfs_quota_us'], 'a smaller burst goes first');
    assert.deepEqual(ids(diffPlans(merged(40_000, 30_000), before)), ['cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_burst_us'], 'a larger one after the quota');
  });

  it('writes v1 files: cfs quota, shares, cpuset, memory + memsw, pids, blkio throttles', () => {
    assert.deepEqual(byFile(plan(full, 'v1')), {
      'cpu/cpu.cfs_period_us': '100000',
      'cpu/cpu.cfs_quota_us': '150000',
      'cpu/cpu.shares': '2048',
      'cpuset/cpuset.cpus': '0-1',
      'memory/memory.limit_in_bytes': String(512 * MiB),
      'memory/memory.soft_limit_in_bytes': String(256 * MiB),
      'memory/memory.memsw.limit_in_bytes': String(640 * MiB),
      'pids/pids.max': '200',
      'blkio/blkio.throttle.write_bps_device 254:16': '254:16 10485760',
      'blkio/blkio.throttle.read_iops_device 254:16': '254:16 500',
    });
  });

  it('writes v2 files: cpu.max, cpu.weight, memory.max/high/swap.max, pids.max, one io.max line per device', () => {
    assert.deepEqual(byFile(plan(full, 'v2')), {
      'cpu/cpu.max': '150000 100000',
      'cpu/cpu.weight': '200',
      'cpuset/cpuset.cpus': '0-1',
      'memory/memory.max': String(512 * MiB),
      'memory/memory.high': String(256 * MiB),
      'memory/memory.swap.max': String(128 * MiB),
      'pids/pids.max': '200',
      'io/io.max 254:16': '254:16 rbps=max wbps=10485760 riops=500 wiops=max',
    });
  });

  it('knows the reset of every file, and mixes flavours on a hybrid host', () => {
    const hybrid = plan({ cpu: { cpus: '1' }, memory: { max: MiB, reservation: MiB }, hugetlb: { '2MB': 4 * MiB } }, (controller) =>
      controller === 'hugetlb' ? 'v2' : controller === 'memory' ? 'v2' : 'v1',
    );
    assert.deepEqual(
      hybrid.map((write) => `${write.file}=${write.value} (reset ${write.reset})`),
      ['cpuset.cpus=1 (reset 0-3)', 'memory.max=1048576 (reset max)', 'memory.low=1048576 (reset 0)', 'hugetlb.2MB.max=4194304 (reset max)'],
    );
    assert.equal(plan({ unified: { 'memory.oom.group': '1' } }, 'v2')[0]?.reset, undefined, 'a raw file has no known default');
  });

  it("gives a v2 box the cpuset its context names back (every CPU online), not v2's empty set, which Linux 6.1 refuses for a box with processes", () => {
    assert.deepEqual(
      plan({ cpu: { cpus: '1', mems: '0' } }, 'v2').map((write) => `${write.file}=${write.value} (reset ${write.reset})`),
      ['cpuset.cpus=1 (reset 0-3)', 'cpuset.mems=0 (reset 0)'],
    );
  });

  it('writes the extra OCI fields where this flavour has them, and refuses them with the reason where not', () => {
    assert.deepEqual(byFile(plan({ memory: { oomKillDisable: true }, cpu: { realtimeRuntime: 10_000, realtimePeriod: 100_000 } }, 'v1')), {
      'memory/memory.oom_control': '1',
      'cpu/cpu.rt_period_us': '100000',
      'cpu/cpu.rt_runtime_us': '10000',
    });
    assert.deepEqual(byFile(plan({ io: { weight: 100 } }, 'v1', 'blkio.bfq.weight')), { 'blkio/blkio.bfq.weight': '100' });
    assert.deepEqual(byFile(plan({ io: { weight: 5000 } }, 'v1', 'blkio.bfq.weight')), { 'blkio/blkio.bfq.weight': '1000' }, 'BFQ stops at 1000');
    assert.deepEqual(byFile(plan({ io: { weight: 300 } }, 'v2', 'io.weight')), { 'io/io.weight': 'default 300' });
    assert.deepEqual(byFile(plan({ io: { weight: 300 } }, 'v2', 'io.weight', 'io.bfq.weight')), {
      'io/io.weight': 'default 300',
      'io/io.bfq.weight': 'default 300',
    });
    assert.deepEqual(byFile(plan({ memory: { reservation: 2 * MiB, minimum: MiB } }, 'v2')), {
      'memory/memory.low': String(2 * MiB),
      'memory/memory.min': String(MiB),
    });
    const refusals: [BoxResources, Flavor, RegExp][] = [
      [{ memory: { oomKillDisable: true } }, 'v2', /cgroup2 has no switch to turn the OOM killer off/],
      [{ cpu: { realtimeRuntime: 1000 } }, 'v2', /cgroup2 has no realtime group scheduling/],
      [{ io: { weight: 100 } }, 'v1', /weighs IO only with the BFQ scheduler, and there is no blkio\.weight or blkio\.bfq\.weight here/],
      [{ memory: { swap: MiB } }, 'v1', /cgroup v1 limits memory and swap together \(memsw\): memory\.max must be set too/],
      [{ memory: { high: MiB, reservation: MiB } }, 'v1', /both cgroup v1's memory\.soft_limit_in_bytes/],
      [{ memory: { minimum: MiB } }, 'v1', /cgroup v1 has no hard memory protection \(memory\.min is cgroup2's/],
    ];
    for (const [resources, flavor, reason] of refusals) {
      assert.throws(
        () => plan(resources, flavor),
        (error: NsboxError) =>
          error.code === 'E_UNSUPPORTED' && /^resource \S+ \(from 'test'\) cannot be enforced on this host: /.test(error.message) && reason.test(error.message),
        JSON.stringify(resources),
      );
    }
    assert.throws(
      () => plan({ pids: { max: 5 } }, () => undefined),
      /resource pids\.max \(from 'test'\) cannot be enforced on this host: this host has no pids cgroup controller/,
    );
  });

  it('maps CPU and IO weights the way systemd and runc do', () => {
    assert.equal(weightToShares(100), 1024);
    assert.equal(weightToShares(1), 10);
    assert.equal(sharesToWeight(2048), 200);
    assert.equal(weightToBlkio(1), 10);
    assert.equal(weightToBlkio(10_000), 1000);
  });
});

describe('resource arbitration: writing only what changed', () => {
  it('writes the files whose value changed, and resets those no knob carries any more', () => {
    const before = plan({ memory: { max: 64 * MiB }, pids: { max: 77 }, io: { throttle: [{ device: '7:0', readBps: MiB }] } }, 'v1');
    const after = plan({ memory: { max: 128 * MiB }, pids: { max: 77 } }, 'v1');
    assert.deepEqual(
      diffPlans(before, after).map((write) => `${write.file}=${write.value}`),
      ['memory.limit_in_bytes=134217728', 'blkio.throttle.read_bps_device=7:0 0'],
    );
    assert.deepEqual(diffPlans(after, after), [], 'the same plan twice writes nothing');
    assert.equal(diffPlans(undefined, after, before).length, 3, 'an unknown state (after a crash) writes every file, and resets the old ones');
  });

  it('keeps memory ≤ memsw at every step on v1', () => {
    const current = plan({ memory: { max: 256 * MiB, swap: 0 } }, 'v1');
    const order = (previous: PlannedWrite[], next: BoxResources) =>
      diffPlans(previous, plan(next, 'v1'))
        .map((write) => write.file)
        .filter((file) => file.startsWith('memory.'));
    assert.deepEqual(
      order(current, { memory: { max: 1024 * MiB, swap: 0 } }),
      ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes'],
      'raising past memsw: memsw first',
    );
    assert.deepEqual(
      order(current, { memory: { max: 128 * MiB, swap: 0 } }),
      ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'],
      'lowering: memory first',
    );
  });

  it('keeps the realtime runtime within its period at every step', () => {
    const current = plan({ cpu: { realtimeRuntime: 500_000, realtimePeriod: 1_000_000 } }, 'v1');
    const files = (next: BoxResources) => diffPlans(current, plan(next, 'v1')).map((write) => write.file);
    assert.deepEqual(files({ cpu: { realtimeRuntime: 50_000, realtimePeriod: 100_000 } }), ['cpu.rt_runtime_us', 'cpu.rt_period_us'], 'a shorter period last');
    assert.deepEqual(
      files({ cpu: { realtimeRuntime: 1_500_000, realtimePeriod: 2_000_000 } }),
      ['cpu.rt_period_us', 'cpu.rt_runtime_us'],
      'a longer period first',
    );
  });
});
