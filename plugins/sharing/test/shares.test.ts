/**
 * The CPU token bucket, IO weight and memory guarantee on real boxes and real cgroups (v1, v2
 * or hybrid, read from the host): written through the runtime's arbitration beside limits'
 * hard caps — the strictest quota holds, a burst never lifts a cap, a change of either owner
 * leaves the other's knobs —; the bias controller moving weights by the buckets' levels; what
 * this host cannot enforce refused naming the field; `nsbox info` showing configured and enforced.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { weightToShares } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { BiasController, ShareRegistry } from '../src/index.js';
import { openSharingHost, type SharingTestHost } from './support.js';

const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sharing: CPU, IO and memory shares through the arbitration', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'shares on real cgroups');
  });

  beforeEach(async () => {
    t = await openSharingHost(cleanup);
  });

  const v1 = (controller: string) => t.driver.cgroups.layout.v1[controller] !== undefined;
  const read = (name: string, controller: string, file: string) => t.driver.cgroups.read(t.host.manager.get(name).id, controller, file).trim();

  /** quota and period (µs), burst (µs) and weight as the kernel holds them. */
  function cpu(name: string): { quota: number | null; period: number; burst: number; weight: number } {
    if (v1('cpu')) {
      const quota = Number(read(name, 'cpu', 'cpu.cfs_quota_us'));
      return {
        quota: quota < 0 ? null : quota,
        period: Number(read(name, 'cpu', 'cpu.cfs_period_us')),
        burst: Number(read(name, 'cpu', 'cpu.cfs_burst_us')),
        weight: Number(read(name, 'cpu', 'cpu.shares')),
      };
    }
    const [quota, period] = read(name, 'cpu', 'cpu.max').split(' ');
    return {
      quota: quota === 'max' ? null : Number(quota),
      period: Number(period),
      burst: Number(read(name, 'cpu', 'cpu.max.burst')),
      weight: Number(read(name, 'cpu', 'cpu.weight')),
    };
  }
  const weightText = (weight: number) => (v1('cpu') ? weightToShares(weight) : weight);

  it('writes the token bucket: fill rate per interval as the quota, the bucket as the burst, the weight', async () => {
    await t.box('bucket', { sharing: { cpu: { fillRate: 50, interval: 100, bucket: 20, weight: 300 } } });
    assert.deepEqual(cpu('bucket'), { quota: 50_000, period: 100_000, burst: 20_000, weight: weightText(300) });
    const info = (await new LocalBoxApi(t.host).details('bucket')).sharing as Record<string, Record<string, unknown>>;
    assert.deepEqual(info.enforced?.cpu, { fillRateMs: 50, intervalMs: 100, bucketMs: 20, weight: 300 }, 'nsbox info shows what the kernel enforces');
    assert.equal((info.configured?.cpu as Record<string, unknown> | undefined)?.fillRate, 50, 'and what is configured');
    assert.deepEqual(info.owners, { 'cpu.quota': ['sharing'], 'cpu.burst': ['sharing'], 'cpu.weight': ['sharing'] });
  });

  it('merges with limits: the stricter quota holds, the burst stays under it, and a change of either leaves the other’s knobs', async () => {
    await t.box('both', { limits: { cpus: '0.3', memory: '128M' }, sharing: { cpu: { fillRate: 50, bucket: 40, weight: 300 } } });
    assert.deepEqual(cpu('both'), { quota: 30_000, period: 100_000, burst: 30_000, weight: weightText(300) }, 'limits’ cap wins; the burst is held to it');
    // limits changes (nsbox set --cpus 0.8 --memory 256M): sharing's fill rate is now the stricter, its weight stays.
    await t.host.manager.update('both', { limits: { cpus: '0.8', memory: '256M' } });
    assert.deepEqual(cpu('both'), { quota: 50_000, period: 100_000, burst: 40_000, weight: weightText(300) });
    // sharing changes (nsbox sharing set --weight 50 --fill-rate 90): limits' cap and memory stay.
    await t.host.manager.update('both', { sharing: { cpu: { fillRate: 90, bucket: 40, weight: 50 } } });
    assert.deepEqual(cpu('both'), { quota: 80_000, period: 100_000, burst: 40_000, weight: weightText(50) }, 'the cap holds under a larger fill rate');
    const memoryFile = v1('memory') ? ['memory', 'memory.limit_in_bytes'] : ['memory', 'memory.max'];
    assert.equal(Number(read('both', memoryFile[0] as string, memoryFile[1] as string)), 256 * MiB, 'limits’ memory untouched');
    const info = (await new LocalBoxApi(t.host).details('both')).sharing as { owners: Record<string, string[]> };
    assert.deepEqual(info.owners['cpu.quota'], ['limits'], 'the quota is limits’ (the stricter)');
    assert.deepEqual(info.owners['cpu.weight'], ['sharing']);
    // sharing's section goes: its knobs go back to what limits wants, or the kernel's default.
    await t.host.manager.update('both', { sharing: null });
    assert.deepEqual(cpu('both'), { quota: 80_000, period: 100_000, burst: 0, weight: weightText(100) });
  });

  it('shares one CPU between two busy boxes with weights 1:3 as 25 % / 75 % ± 5 (whichever cgroup driver placed them)', async () => {
    // One CPU for both (limits' cpuset), the first this machine has online.
    const cpuset = (readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(/[,-]/)[0] as string).trim();
    const spin = { args: ['sh', '-c', 'while :; do :; done'] };
    for (const [name, weight] of [
      ['light', 100],
      ['heavy', 300],
    ] as const) {
      await t.box(name, { sharing: { template: 'shared', cpu: { weight } }, limits: { cpuset }, process: spin });
    }
    const usage = (name: string) => t.driver.resources.stats({ id: t.host.manager.get(name).id })?.cpu.usageUsec ?? 0;
    await sleep(500);
    const before = { light: usage('light'), heavy: usage('heavy') };
    await sleep(3000);
    const light = usage('light') - before.light;
    const heavy = usage('heavy') - before.heavy;
    const share = heavy / (light + heavy);
    console.log(
      `      weights 1:3 on CPU ${cpuset}: light ${(100 * (1 - share)).toFixed(1)} %, heavy ${(100 * share).toFixed(1)} % of ${((light + heavy) / 1e6).toFixed(2)} CPU-s`,
    );
    assert.ok(light + heavy >= 300_000, `they ran enough to measure: ${light + heavy} µs of CPU in 3 s`);
    assert.ok(Math.abs(share - 0.75) <= 0.05, `the heavy box's share ${(100 * share).toFixed(1)} % is 75 % ± 5`);
  });

  it('refuses a weight two owners set, naming both, and leaves the running box as it was', async () => {
    await t.box('twice', { sharing: { cpu: { weight: 300 } } });
    await assert.rejects(
      t.host.manager.update('twice', { limits: { cpuWeight: 500 } }),
      (error: NsboxError) => isNsboxError(error) && /sharing/.test(error.message) && /limits/.test(error.message),
    );
    assert.equal(cpu('twice').weight, weightText(300));
    assert.equal(t.host.manager.get('twice').config.limits, undefined, 'the change was not kept');
  });

  it('biases the weights: a box that drains its bucket goes down, an idle one with a full bucket goes up, the caps hold', async () => {
    const section = { cpu: { fillRate: 20, interval: 100, bucket: 20, minimum: 10, weight: 200, bias: 1 } };
    await t.box('busy', { sharing: section, limits: { cpus: '0.5' }, process: { args: ['sh', '-c', 'while :; do :; done'] } });
    await t.box('idle', { sharing: section });
    assert.equal(cpu('busy').weight, weightText(400), 'a new box starts with a full bucket');
    const controller = new BiasController(new ShareRegistry(t.host.store.pluginState), t.driver.resources, 1000);
    controller.tick();
    await sleep(600);
    const changed = controller.tick();
    const ids = { busy: t.host.manager.get('busy').id, idle: t.host.manager.get('idle').id };
    assert.deepEqual(
      changed.map((change) => [change.boxId, change.weight]),
      [[ids.busy, 100]],
      'only the busy box changed: drained, its weight halves',
    );
    assert.equal(cpu('busy').weight, weightText(100));
    assert.equal(cpu('idle').weight, weightText(400), 'the idle box keeps the raised weight');
    assert.equal(cpu('busy').quota, 20_000, 'its fill rate (stricter than limits’ 0.5) holds under the bias');
    const info = (await new LocalBoxApi(t.host).details('busy')).sharing as { bias: { weight: number; drained: boolean } };
    assert.deepEqual([info.bias.weight, info.bias.drained], [100, true], 'nsbox info shows the bias');
    await t.host.manager.stop('busy', { timeoutMs: 0 });
    assert.deepEqual(
      new ShareRegistry(t.host.store.pluginState).list().map((entry) => entry.boxId),
      [ids.idle],
      'a stopped box is no longer watched',
    );
  });

  it('runs the bias controller as the plugin’s host service (what the resident agent starts): it moves a busy box’s weight by itself', async () => {
    t = await openSharingHost(cleanup, { settings: { biasTickMs: 200 } });
    const section = { cpu: { fillRate: 20, bucket: 20, weight: 200, bias: 1 } };
    await t.box('spinner', { sharing: section, process: { args: ['sh', '-c', 'while :; do :; done'] } });
    const found = t.host.plugins.hostServices().find((entry) => entry.plugin === 'sharing');
    assert.equal(found?.service.name, 'cpu-bias');
    const service = found?.service as NonNullable<typeof found>['service'];
    await service.start({ signal: new AbortController().signal, log: { debug() {}, info() {}, warn() {} } });
    try {
      const deadline = Date.now() + 5_000;
      while (cpu('spinner').weight !== weightText(100) && Date.now() < deadline) await sleep(100);
      assert.equal(cpu('spinner').weight, weightText(100), 'the service lowered the drained box’s weight');
    } finally {
      await service.stop();
    }
  });

  it('writes the memory guarantee (v2 memory.low, v1 soft limit) and the IO weight where the host weighs IO, refusing it naming the field where not', async () => {
    await t.box('guaranteed', { sharing: { memory: { guarantee: '64M' } } });
    const file = v1('memory') ? 'memory.soft_limit_in_bytes' : 'memory.low';
    assert.equal(Number(read('guaranteed', 'memory', file)), 64 * MiB);
    const info = (await new LocalBoxApi(t.host).details('guaranteed')).sharing as Record<string, Record<string, unknown>>;
    assert.deepEqual(info.enforced?.memory, { guarantee: '64M' });
    const problems = t.driver.resources.check({ io: { weight: 200 } });
    if (problems.length === 0) {
      await t.box('weighted', { sharing: { io: { weight: 200 } } });
      const enforced = ((await new LocalBoxApi(t.host).details('weighted')).sharing as Record<string, Record<string, unknown>>).enforced;
      assert.deepEqual(enforced?.io, { weight: 200 });
    } else {
      await assert.rejects(
        t.create('weighted', { sharing: { io: { weight: 200 } } }),
        (error: NsboxError) => isNsboxError(error) && error.code === 'E_UNSUPPORTED' && (error.details as { field?: string }).field === 'sharing.io.weight',
      );
      assert.equal(t.host.manager.list().length, 1, 'nothing was created');
    }
  });

  it('refuses bad values naming the field: a bucket above the fill rate, a bias without a fill rate, a bad size', async () => {
    for (const [sharing, field] of [
      [{ cpu: { fillRate: 10, bucket: 20 } }, /sharing\.cpu\.bucket/],
      [{ cpu: { bias: 1 } }, /sharing\.cpu\.bias/],
      [{ memory: { guarantee: 'lots' } }, /sharing\.memory\.guarantee/],
      [{ cpu: { weight: 0 } }, /sharing\.cpu\.weight/],
    ] as const) {
      await assert.rejects(
        t.create('bad', { sharing }),
        (error: NsboxError) => isNsboxError(error) && error.code === 'E_INVALID_CONFIG' && field.test(error.message),
      );
    }
    assert.deepEqual(t.host.manager.list(), []);
  });
});
