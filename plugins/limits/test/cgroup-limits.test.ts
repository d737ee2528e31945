/**
 * CPU, memory, process and rlimit limits on real boxes and the real kernel: enforced under
 * abuse, changed live without a restart, and bad input refused with the box left alone.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { type BoxEvent, isNsboxError, type NsboxError } from '@nsbox/core';
import { isSameProcess, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { type LimitsTestHost, openLimitsHost, sleep, waitFor } from './support.js';

const MiB = 2 ** 20;

describe('limits: cgroup limits on real boxes', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: LimitsTestHost;

  before(function () {
    requireRoot(this, 'limits on real boxes');
  });

  beforeEach(async () => {
    t = await openLimitsHost(cleanup);
  });

  function history(name: string, kind: string): BoxEvent[] {
    return t.host.manager.history({ boxId: t.host.manager.get(name).id }).filter((event) => event.kind === kind);
  }

  function initAlive(name: string): boolean {
    return isSameProcess((t.host.manager.get(name).runtime as LinuxRuntimeFacts).init);
  }

  it('OOM-kills what allocates past memory 64M; the box, a neighbour and the host keep running; the OOM is in history', async () => {
    await t.box('hog', { memory: '64M' });
    await t.box('neighbour', undefined);
    const result = await t.exec('hog', 'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo status=$?');
    assert.equal(result.stdout.trim(), 'status=137', `dd should be SIGKILLed by the OOM killer: ${result.stdout} ${result.stderr}`);
    assert.ok(Number(t.cgroup('hog', 'memory', 'memory.max_usage_in_bytes')) <= 64 * MiB, 'the box never held more than its limit');
    assert.ok(initAlive('hog'), "the box's init survives");
    assert.ok(initAlive('neighbour'), 'the neighbour box keeps running');
    assert.equal((await t.exec('neighbour', 'echo alive')).stdout, 'alive\n');
    assert.equal(spawnSync('true').status, 0, 'the host still runs processes');

    const report = t.limits.report(t.host.manager.get('hog'));
    assert.deepEqual(report.newEvents, ['oom']);
    const [event] = history('hog', 'limits.oom');
    assert.equal(event?.source, 'limits');
    assert.equal(event?.data['killed'], 1);
    assert.equal(event?.data['memory'], 64 * MiB);
    assert.deepEqual(t.limits.report(t.host.manager.get('hog')).newEvents, [], 'an OOM is reported once');
  });

  it("reports an OOM that killed the box's init when the box is next looked at, though no process watched it", async () => {
    await t.box('doomed', { memory: '32M' }, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1']);
    assert.ok(await waitFor(() => !initAlive('doomed'), 10_000), 'init is OOM-killed');
    // What any later nsbox command does first: sync finds the box stopped and reads its counters.
    const box = await t.host.manager.sync('doomed');
    assert.equal(box.state, 'stopped');
    assert.deepEqual(box.runtime['exit'], { state: 'stopped', signal: 9 });
    assert.equal(history('doomed', 'limits.oom').length, 1);
  });

  it('stops a fork bomb at pids 50 and reports the refused forks; the host is unaffected', async () => {
    // cpus 0.5 keeps the bomb from taking the machine while it runs.
    await t.box('bomb', { pids: 50, cpus: 0.5 });
    await t.exec('bomb', '(bomb() { bomb | bomb & }; bomb) </dev/null >/dev/null 2>&1 &');
    // The kernel counts every fork it refused at the limit: the bomb has hit it once that moves.
    const refused = () => Number(/max (\d+)/.exec(t.cgroup('bomb', 'pids', 'pids.events'))?.[1] ?? 0);
    assert.ok(await waitFor(() => refused() > 0, 30_000), 'the bomb reaches the limit and the kernel refuses forks');
    let most = 0;
    for (let sample = 0; sample < 20; sample++) {
      most = Math.max(most, Number(t.cgroup('bomb', 'pids', 'pids.current')));
      await sleep(50);
    }
    assert.ok(most <= 50, `never more than 50 processes (saw ${most})`);
    assert.equal(spawnSync('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8; do true & done; wait']).status, 0, 'the host still forks');
    assert.deepEqual(t.limits.report(t.host.manager.get('bomb')).newEvents, ['pids-max']);
    assert.equal(history('bomb', 'limits.pids-max')[0]?.data['pids'], 50);
    const stopped = Date.now();
    await t.host.manager.stop('bomb', { timeoutMs: 0 });
    console.log(`      fork bomb at pids 50 stopped in ${Date.now() - stopped} ms`);
  });

  it('holds a busy loop to cpus 0.5, and lifts the cap live when cpus goes to 1', async () => {
    await t.box('spin', { cpus: 0.5 }, ['sh', '-c', 'while :; do :; done']);
    const usage = () => Number(t.cgroup('spin', 'cpuacct', 'cpuacct.usage')) / 1e9;
    const throttled = () => Number(/nr_throttled (\d+)/.exec(t.cgroup('spin', 'cpu', 'cpu.stat'))?.[1]);
    await sleep(500);
    const [cpu0, throttled0, time0] = [usage(), throttled(), Date.now()];
    await sleep(3000);
    const share = (usage() - cpu0) / ((Date.now() - time0) / 1000);
    console.log(`      busy loop at cpus 0.5: ${(share * 100).toFixed(1)}% of one CPU over 3 s`);
    assert.ok(share <= 0.55, `share ${share} is above 55% of one CPU`);
    assert.ok(share > 0.05, `share ${share}: the loop hardly ran`);
    assert.ok(throttled() > throttled0, 'the kernel throttled the box');

    const changed = Date.now();
    await t.host.manager.update('spin', { limits: { cpus: 1 } });
    console.log(`      cpus 0.5 -> 1 applied in ${Date.now() - changed} ms`);
    assert.equal(t.cgroup('spin', 'cpu', 'cpu.cfs_quota_us'), '100000');
    await sleep(300);
    const [throttled1, cpu1, time1] = [throttled(), usage(), Date.now()];
    await sleep(1500);
    // A single thread never uses more than one CPU: at cpus 1 the quota (almost) never runs
    // out, and the loop gets what the machine can give it — well above the old half CPU.
    const share1 = (usage() - cpu1) / ((Date.now() - time1) / 1000);
    console.log(`      busy loop at cpus 1: ${(share1 * 100).toFixed(1)}% of one CPU`);
    assert.ok(throttled() === throttled1 || share1 > 0.6, `still held: ${(share1 * 100).toFixed(1)}% and throttled again`);
  });

  it('sets rlimits on init (/proc/1/limits), changes soft limits live and refuses a hard limit above the host ceiling', async () => {
    await t.box('rl', { rlimits: { nofile: { soft: 1024, hard: 4096 }, core: 0, nproc: '500', as: 'unlimited' } });
    const limits = async () => (await t.exec('rl', 'cat /proc/1/limits')).stdout;
    assert.match(await limits(), /Max open files\s+1024\s+4096\s+files/);
    assert.match(await limits(), /Max core file size\s+0\s+0\s+bytes/);
    assert.match(await limits(), /Max processes\s+500\s+500\s+processes/);
    assert.match(await limits(), /Max address space\s+unlimited\s+unlimited\s+bytes/);

    await t.host.manager.update('rl', { limits: { rlimits: { nofile: { soft: 2048, hard: 4096 }, core: 0, nproc: 500 } } });
    assert.match(await limits(), /Max open files\s+2048\s+4096\s+files/, 'the soft limit changed live');
    assert.equal((await t.exec('rl', 'ulimit -n')).stdout, '2048\n', "what is exec'd into the box gets its rlimits too");

    const before = structuredClone(t.host.manager.get('rl').config);
    await assert.rejects(
      t.host.manager.update('rl', { limits: { rlimits: { nofile: { soft: 1024, hard: 30000 } } } }),
      (error: NsboxError) => isNsboxError(error) && /limits\.rlimits\.nofile: hard limit 30000 is above this host's ceiling of 20000/.test(error.message),
    );
    assert.deepEqual(t.host.manager.get('rl').config, before, 'the stored config is unchanged');
    assert.match(await limits(), /Max open files\s+2048\s+4096\s+files/, 'the box is untouched');
  });

  it('changes every cgroup limit on a running box without a restart', async () => {
    const box = await t.box('live', { cpus: 0.5, cpuWeight: 50, cpuset: '0', memory: '64M', memoryHigh: '32M', pids: 100 });
    const init = (box.runtime as LinuxRuntimeFacts).init?.pid;
    assert.deepEqual(
      ['cpu.cfs_quota_us', 'cpu.shares'].map((file) => t.cgroup('live', 'cpu', file)),
      ['50000', '512'],
    );
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), '0');
    assert.equal(t.cgroup('live', 'memory', 'memory.soft_limit_in_bytes'), String(32 * MiB));

    const changed = Date.now();
    await t.host.manager.update('live', { limits: { cpus: 1.5, cpuWeight: 200, cpuset: '1', memory: '128M', memoryHigh: '96M', swap: '64M', pids: 200 } });
    const took = Date.now() - changed;
    console.log(`      7 limits changed live in ${took} ms`);
    assert.equal(t.cgroup('live', 'cpu', 'cpu.cfs_quota_us'), '150000');
    assert.equal(t.cgroup('live', 'cpu', 'cpu.shares'), '2048');
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), '1');
    assert.equal(t.cgroup('live', 'memory', 'memory.limit_in_bytes'), String(128 * MiB));
    assert.equal(t.cgroup('live', 'memory', 'memory.soft_limit_in_bytes'), String(96 * MiB));
    assert.equal(t.cgroup('live', 'memory', 'memory.memsw.limit_in_bytes'), String(192 * MiB));
    assert.equal(t.cgroup('live', 'pids', 'pids.max'), '200');
    assert.match((await t.exec('live', 'cat /proc/self/status')).stdout, /Cpus_allowed_list:\s+1\n/, 'processes run on the new cpuset');

    // Lowering memory below the old memsw and then removing every limit.
    await t.host.manager.update('live', { limits: { memory: '32M' } });
    assert.equal(t.cgroup('live', 'memory', 'memory.limit_in_bytes'), String(32 * MiB));
    assert.equal(t.cgroup('live', 'memory', 'memory.memsw.limit_in_bytes'), '9223372036854771712');
    await t.host.manager.update('live', { limits: null });
    assert.equal(t.cgroup('live', 'cpu', 'cpu.cfs_quota_us'), '-1');
    assert.equal(t.cgroup('live', 'pids', 'pids.max'), 'max');
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), '0-1');
    assert.equal(t.cgroup('live', 'memory', 'memory.limit_in_bytes'), '9223372036854771712');
    assert.equal((t.host.manager.get('live').runtime as LinuxRuntimeFacts).init?.pid, init, 'the same init throughout: no restart');
    assert.equal(t.host.manager.get('live').state, 'running');
  });

  it('refuses bad input with a clear error, leaving the running box and its stored config as they were', async () => {
    await t.box('steady', { memory: '64M', cpus: 1, pids: 100 });
    await t.exec('steady', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null');
    const config = structuredClone(t.host.manager.get('steady').config);
    const files = () => [
      t.cgroup('steady', 'memory', 'memory.limit_in_bytes'),
      t.cgroup('steady', 'cpu', 'cpu.cfs_quota_us'),
      t.cgroup('steady', 'cpuset', 'cpuset.cpus'),
    ];
    const cgroupBefore = files();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ memory: '4M' }, 'E_INVALID_CONFIG', /limits\.memory: 4M is below what box 'steady' uses now \(\d+(\.\d)?M\)/],
      [{ cpuset: '0-7' }, 'E_INVALID_CONFIG', /limits\.cpuset: CPU 2-7 does not exist on this host \(it has 0-1\)/],
      [{ cpus: 0 }, 'E_INVALID_CONFIG', /limits\.cpus: .*must be more than 0/],
      [{ cpus: 'half' }, 'E_INVALID_CONFIG', /limits\.cpus: 'half' is not a number of CPUs/],
      [{ memory: '-5M' }, 'E_INVALID_CONFIG', /limits\.memory: '-5M' is negative/],
      [{ memory: 'lots' }, 'E_INVALID_CONFIG', /limits\.memory: 'lots' is not a size/],
      [{ pids: 'many' }, 'E_INVALID_CONFIG', /limits\.pids: 'many' is not a count/],
      [{ rlimits: { files: 10 } }, 'E_INVALID_CONFIG', /limits\.rlimits\.files: unknown rlimit 'files'/],
    ];
    for (const [section, code, message] of cases) {
      await assert.rejects(t.host.manager.update('steady', { limits: { memory: '64M', cpus: 1, pids: 100, ...section } }), (error: NsboxError) => {
        assert.equal(error.code, code, error.message);
        assert.match(error.message, message);
        return true;
      });
      assert.deepEqual(t.host.manager.get('steady').config, config, `stored config unchanged after ${JSON.stringify(section)}`);
      assert.deepEqual(files(), cgroupBefore, `cgroup unchanged after ${JSON.stringify(section)}`);
    }
    assert.ok(initAlive('steady'));
    assert.equal(t.host.manager.get('steady').state, 'running');
  });

  it('refuses at create a limit this host cannot enforce, and leaves boxes without limits alone', async () => {
    await assert.rejects(
      t.host.manager.create({ name: 'ionope', config: { template: 'busybox', limits: { io: [{ device: '/dev/nonexistent', writeBps: '1M' }] } } }),
      /limits\.io\[0\]\.device: \/dev\/nonexistent is not a block device on this host/,
    );
    assert.deepEqual(t.host.manager.list(), []);
    const plain = await t.box('plain', undefined);
    assert.equal(t.cgroup('plain', 'memory', 'memory.limit_in_bytes'), '9223372036854771712');
    assert.equal(t.limits.describe(plain), undefined, 'nothing to show for a box without limits');
  });
});
