/**
 * CPU, memory, process and rlimit limits on real boxes and the real kernel: enforced under
 * abuse, changed live without a restart, and bad input refused with the box left alone.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type BoxEvent, isNsboxError, type NsboxError, type OciSpec } from '@nsbox/core';
import { isSameProcess, type LinuxRuntimeFacts } from '@nsbox/runtime';
import { formatCpuList } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { CAP_SYS_RESOURCE, HostFacts } from '../src/host-facts.js';
import { DEFAULT_PIDS } from '../src/host-settings.js';
import { parseProcLimits } from '../src/rlimits.js';
import { boxCpus, knob, type LimitsTestHost, openLimitsHost, readKnob, sleep, waitFor } from './support.js';

const MiB = 2 ** 20;

/** A field of a cgroup's flat-keyed file (pids.events, cpu.stat). */
function counter(text: string, key: string): number {
  const value = new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1];
  assert.ok(value !== undefined, `no '${key}' in ${JSON.stringify(text)}`);
  return Number(value);
}

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
    assert.ok(Number(readKnob(t, 'hog', 'memoryPeak')) <= 64 * MiB, 'the box never held more than its limit');
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

  function initPid(name: string): number {
    const pid = (t.host.manager.get(name).runtime as LinuxRuntimeFacts).init?.pid;
    assert.ok(pid !== undefined, `box '${name}' has an init`);
    return pid;
  }

  /**
   * Sets off a fork bomb in a box and judges it by the kernel's own counters: the box's
   * pids.max, the forks refused at it (pids.events max) and the most processes it ever had
   * (pids.peak, or pids.current sampled where the kernel has no peak).
   */
  async function forkBomb(name: string): Promise<{ limit: number; refused: number; most: number }> {
    const limitText = t.cgroup(name, 'pids', 'pids.max');
    assert.match(limitText, /^\d+$/, `box '${name}' has a pids limit (pids.max is '${limitText}')`);
    const limit = Number(limitText);
    await t.exec(name, '(bomb() { bomb | bomb & }; bomb) </dev/null >/dev/null 2>&1 &');
    const refused = () => counter(t.cgroup(name, 'pids', 'pids.events'), 'max');
    let most = 0;
    const sample = () => {
      most = Math.max(most, Number(t.cgroup(name, 'pids', 'pids.current')));
      return refused() > 0;
    };
    assert.ok(await waitFor(sample, 30_000), `the bomb reaches the limit of ${limit} and the kernel refuses forks`);
    for (let round = 0; round < 20; round++) {
      sample();
      await sleep(50);
    }
    const peak = t.driver.resources.stats(t.host.manager.get(name))?.pids.peak;
    // The kernel raises the peak only for a fork it let through: a refused fork means the box was at its limit.
    if (peak !== undefined) {
      assert.equal(Number(peak), limit, `pids.peak is the limit exactly: the box reached it and never passed it`);
      most = Math.max(most, Number(peak));
    }
    assert.ok(most <= limit, `never more than ${limit} processes (saw ${most})`);
    assert.equal(spawnSync('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8; do true & done; wait']).status, 0, 'the host still forks');
    return { limit, refused: refused(), most };
  }

  it('stops a fork bomb at the pids limit the box sets and reports the refused forks; the host is unaffected', async () => {
    // cpus 0.5 keeps the bomb from taking the machine while it runs.
    await t.box('bomb', { pids: 50, cpus: 0.5 });
    const { limit, refused } = await forkBomb('bomb');
    assert.equal(limit, 50, "pids.max is the box's own limit");
    assert.ok(refused > 0);
    assert.deepEqual(t.limits.report(t.host.manager.get('bomb')).newEvents, ['pids-max']);
    assert.equal(history('bomb', 'limits.pids-max')[0]?.data['pids'], 50);
    const stopped = Date.now();
    await t.host.manager.stop('bomb', { timeoutMs: 0 });
    console.log(`      fork bomb at pids 50 stopped in ${Date.now() - stopped} ms`);
  });

  it("gives a box that sets no pids limit the host's default, which stops a fork bomb", async () => {
    assert.equal(t.limits.settings.defaultPids, DEFAULT_PIDS, 'a host whose admin said nothing has the default');
    await t.box('plain', undefined);
    assert.equal(t.cgroup('plain', 'pids', 'pids.max'), String(DEFAULT_PIDS));

    // A smaller default from the admin, so the bomb is over quickly.
    t = await openLimitsHost(cleanup, { settings: { defaultPids: 64 } });
    await t.box('bomb', { cpus: 0.5 });
    const { limit, refused } = await forkBomb('bomb');
    assert.equal(limit, 64, "pids.max is the admin's default");
    assert.ok(refused > 0);
    assert.deepEqual(t.limits.report(t.host.manager.get('bomb')).newEvents, ['pids-max']);
    assert.equal(history('bomb', 'limits.pids-max')[0]?.data['pids'], 64, 'the event names the limit that held');
    await t.host.manager.stop('bomb', { timeoutMs: 0 });
  });

  /**
   * Every level of the test's own above the box (its cgroup parent; under systemd, the slice
   * and the box's scope too) gets the highest CPU weight, so other load on the machine takes
   * no CPU time from the box: the CPU limit is what holds the box back.
   */
  function favourTestParent(name: string): void {
    const layout = t.driver.cgroups.layout;
    if (layout.v1['cpu']) {
      writeFileSync(join(layout.v1['cpu'], t.cgroupParent, 'cpu.shares'), '262144');
      return;
    }
    const boxDir = t.driver.cgroups.get(t.host.manager.get(name).id)?.unifiedDir;
    assert.ok(layout.unified && boxDir, `box '${name}' has a cgroup2 directory`);
    for (let dir = dirname(boxDir); dir.startsWith(`${layout.unified}/`); dir = dirname(dir)) writeFileSync(join(dir, 'cpu.weight'), '10000');
  }

  /** Kernel counters of a box whose init spins: CPU time used, time throttled, and its init's time waiting to run. */
  function cpuCounters(name: string) {
    const stat = t.cgroup(name, 'cpu', 'cpu.stat');
    const v1 = t.driver.resources.host.flavor('cpu') === 'v1';
    const [runNs, waitNs] = readFileSync(`/proc/${initPid(name)}/schedstat`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number) as [number, number];
    return {
      wallNs: Number(process.hrtime.bigint()),
      usageNs: (t.limits.report(t.host.manager.get(name)).usage?.cpuSeconds ?? Number.NaN) * 1e9,
      throttledNs: v1 ? counter(stat, 'throttled_time') : counter(stat, 'throttled_usec') * 1000,
      throttledPeriods: counter(stat, 'nr_throttled'),
      runNs,
      waitNs,
    };
  }

  /**
   * The share of one CPU a spinning box got over a window, judged only where it could have
   * used more: its init was runnable throughout (run + wait ≈ wall) and every wait but a
   * little was the kernel throttling it (not another process holding the CPU).
   */
  async function cpuShare(name: string, windowMs: number): Promise<{ share: number; throttledPeriods: number; contended: number }> {
    for (let attempt = 1; ; attempt++) {
      const before = cpuCounters(name);
      await sleep(windowMs);
      const after = cpuCounters(name);
      const wall = after.wallNs - before.wallNs;
      const share = (after.usageNs - before.usageNs) / wall;
      const runnable = (after.runNs - before.runNs + after.waitNs - before.waitNs) / wall;
      const contended = (after.waitNs - before.waitNs - (after.throttledNs - before.throttledNs)) / wall;
      const figures = `${(share * 100).toFixed(1)}% of one CPU, runnable ${(runnable * 100).toFixed(0)}%, waiting for another process ${(contended * 100).toFixed(1)}% of ${windowMs} ms`;
      assert.ok(runnable > 0.9, `the spinning init was not runnable throughout: ${figures}`);
      if (contended < 0.1) return { share, throttledPeriods: after.throttledPeriods - before.throttledPeriods, contended };
      assert.ok(attempt < 5, `other load held the box off the CPU in 5 windows in a row, so its CPU limit cannot be judged: ${figures}`);
    }
  }

  it('holds a busy loop to cpus 0.5, and lifts the cap live when cpus goes to 1', async () => {
    await t.box('spin', { cpus: 0.5 }, ['sh', '-c', 'while :; do :; done']);
    favourTestParent('spin');
    await sleep(300);
    const half = await cpuShare('spin', 2000);
    console.log(`      busy loop at cpus 0.5: ${(half.share * 100).toFixed(1)}% of one CPU over 2 s (${half.throttledPeriods} periods throttled)`);
    assert.ok(half.share >= 0.4 && half.share <= 0.6, `the box used ${(half.share * 100).toFixed(1)}% of one CPU, not about 50%`);
    assert.ok(half.throttledPeriods > 0, 'the kernel throttled the box');

    const changed = Date.now();
    await t.host.manager.update('spin', { limits: { cpus: 1 } });
    console.log(`      cpus 0.5 -> 1 applied in ${Date.now() - changed} ms`);
    assert.equal(t.limits.cgroups.effective(t.host.manager.get('spin'))?.cpus, 1);
    await sleep(300);
    // A single thread never uses more than one CPU: at cpus 1 the quota (almost) never runs
    // out, and the loop gets the whole CPU its weight wins it.
    const whole = await cpuShare('spin', 1500);
    console.log(`      busy loop at cpus 1: ${(whole.share * 100).toFixed(1)}% of one CPU`);
    assert.ok(whole.share > 0.8, `still held at ${(whole.share * 100).toFixed(1)}% of one CPU`);
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

    // Without CAP_SYS_RESOURCE no process raises a hard limit past its own: this one's is the ceiling.
    const facts = new HostFacts();
    const ceiling = facts.rlimitCeilings().nofile?.hard;
    if (!facts.hasCapability(CAP_SYS_RESOURCE) && typeof ceiling === 'number') {
      const before = structuredClone(t.host.manager.get('rl').config);
      const above = ceiling + 10_000;
      await assert.rejects(t.host.manager.update('rl', { limits: { rlimits: { nofile: { soft: 1024, hard: above } } } }), (error: NsboxError) => {
        assert.ok(isNsboxError(error));
        assert.match(error.message, new RegExp(`limits\\.rlimits\\.nofile: hard limit ${above} is above this host's ceiling of ${ceiling}`));
        return true;
      });
      assert.deepEqual(t.host.manager.get('rl').config, before, 'the stored config is unchanged');
    } else {
      console.log(`      (this process may raise nofile past ${ceiling}: no host ceiling to refuse)`);
    }
    assert.match(await limits(), /Max open files\s+2048\s+4096\s+files/, 'the box is untouched');
  });

  /** The rlimits the box was launched with (the spec the driver hands the launcher) and the ones its init has. */
  function launchedRlimits(name: string) {
    const box = t.host.manager.get(name);
    const spec = JSON.parse(readFileSync(t.driver.files(box).specFile, 'utf8')) as OciSpec;
    const init = parseProcLimits(readFileSync(`/proc/${initPid(name)}/limits`, 'utf8'));
    return { spec: spec.process.rlimits ?? [], init };
  }

  it('gives every box rtprio and nice 0 unless the admin raises their caps, and refuses a box that asks for more', async () => {
    await t.box('plain', undefined);
    const { spec, init } = launchedRlimits('plain');
    assert.deepEqual(
      spec.filter((limit) => limit.type === 'RLIMIT_RTPRIO' || limit.type === 'RLIMIT_NICE'),
      [
        { type: 'RLIMIT_RTPRIO', soft: 0, hard: 0 },
        { type: 'RLIMIT_NICE', soft: 0, hard: 0 },
      ],
      'the launcher is told to set them',
    );
    assert.deepEqual(
      [init.rtprio, init.nice],
      [
        { soft: 0, hard: 0 },
        { soft: 0, hard: 0 },
      ],
      "the box's init has them",
    );

    for (const [name, section] of [
      ['rt', { rlimits: { rtprio: 10 } }],
      ['nicer', { rlimits: { nice: { soft: 0, hard: 30 } } }],
    ] as const) {
      const field = `limits.rlimits.${Object.keys(section.rlimits)[0]}`;
      await assert.rejects(t.host.manager.create({ name, config: { template: 'busybox', limits: section } }), (error: NsboxError) => {
        assert.equal(error.code, 'E_FORBIDDEN', error.message);
        assert.match(
          error.message,
          new RegExp(`^${field.replaceAll('.', '\\.')}: hard limit \\d+ is above the admin's cap of 0 \\(settings\\.limits\\.maxRlimits\\.`),
        );
        assert.equal((error.details['issues'] as { path: string }[])[0]?.path, field);
        return true;
      });
    }
    await assert.rejects(t.host.manager.update('plain', { limits: { rlimits: { rtprio: 1 } } }), (error: NsboxError) => error.code === 'E_FORBIDDEN');
    assert.deepEqual(
      t.host.manager.list().map((box) => [box.name, box.config['limits']]),
      [['plain', undefined]],
      'nothing was made or changed',
    );

    // The negative control: with the cap lifted, nsbox leaves rtprio to what init inherits.
    t = await openLimitsHost(cleanup, { settings: { maxRlimits: { rtprio: 'unlimited', nice: 'unlimited' } } });
    await t.box('free', undefined);
    assert.deepEqual(
      launchedRlimits('free').spec.filter((limit) => limit.type === 'RLIMIT_RTPRIO' || limit.type === 'RLIMIT_NICE'),
      [],
    );
  });

  it('refuses to open a host whose limits settings are bad, naming the field of the host config', async () => {
    await assert.rejects(
      openLimitsHost(cleanup, { settings: { maxRlimits: { rtprio: 'high' } } }),
      /settings\.limits\.maxRlimits\.rtprio: 'high' is not a count/,
    );
  });

  it("holds every box to the admin's rlimit and pids caps: init within them, a box asking for more refused naming the field", async () => {
    const inherited = new HostFacts().rlimitCeilings().nofile;
    assert.ok(typeof inherited?.hard === 'number' && inherited.hard > 64, `this process has a nofile limit to lower (${JSON.stringify(inherited)})`);
    const cap = Math.floor(inherited.hard / 2);
    t = await openLimitsHost(cleanup, { settings: { maxPids: 500, defaultPids: 100, maxRlimits: { nofile: cap } } });
    await t.box('capped', { pids: 500, rlimits: { core: 0 } });
    assert.deepEqual(launchedRlimits('capped').init.nofile, { soft: Math.min(inherited.soft as number, cap), hard: cap }, 'init gets nofile at most the cap');
    assert.equal((await t.exec('capped', 'ulimit -n')).stdout, `${Math.min(inherited.soft as number, cap)}\n`, "what is exec'd in too");
    assert.equal(t.cgroup('capped', 'pids', 'pids.max'), '500', 'a box may set its own pids up to the cap');

    const config = structuredClone(t.host.manager.get('capped').config);
    const refusals: [Record<string, unknown>, string, string][] = [
      [{ pids: 501 }, 'limits.pids', "limits.pids: 501 is above the admin's cap of 500 (settings.limits.maxPids in the host config)"],
      [
        { rlimits: { nofile: { soft: 64, hard: cap + 1 } } },
        'limits.rlimits.nofile',
        `limits.rlimits.nofile: hard limit ${cap + 1} is above the admin's cap of ${cap} (settings.limits.maxRlimits.nofile in the host config)`,
      ],
    ];
    for (const [section, field, message] of refusals) {
      await assert.rejects(t.host.manager.update('capped', { limits: section }), (error: NsboxError) => {
        assert.equal(error.code, 'E_FORBIDDEN');
        assert.ok(error.message.endsWith(message), error.message);
        assert.equal((error.details['issues'] as { path: string }[])[0]?.path, field);
        return true;
      });
      await assert.rejects(t.host.manager.create({ name: 'greedy', config: { template: 'busybox', limits: section } }), { code: 'E_FORBIDDEN', message });
    }
    assert.deepEqual(t.host.manager.get('capped').config, config, 'the stored config is unchanged');
    assert.deepEqual(
      t.host.manager.list().map((box) => box.name),
      ['capped'],
    );
  });

  it('changes every cgroup limit on a running box without a restart', async () => {
    const cpus = boxCpus(t);
    const [first, last] = [cpus[0] as number, cpus[cpus.length - 1] as number];
    // 1.5 CPUs where the box may run on two or more; on one CPU, all of it.
    const wide = cpus.length >= 2 ? 1.5 : 1;
    const box = await t.box('live', { cpus: 0.5, cpuWeight: 50, cpuset: String(first), memory: '64M', memoryHigh: '32M', pids: 100 });
    const init = (box.runtime as LinuxRuntimeFacts).init?.pid;
    assert.equal(readKnob(t, 'live', 'cpus'), knob(t, 'cpus').text(0.5));
    assert.equal(readKnob(t, 'live', 'cpuWeight'), knob(t, 'cpuWeight').text(50));
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), String(first));
    assert.equal(readKnob(t, 'live', 'memoryHigh'), String(32 * MiB));

    const changed = Date.now();
    await t.host.manager.update('live', {
      limits: { cpus: wide, cpuWeight: 200, cpuset: String(last), memory: '128M', memoryHigh: '96M', swap: '64M', pids: 200 },
    });
    const took = Date.now() - changed;
    console.log(`      7 limits changed live in ${took} ms`);
    assert.equal(readKnob(t, 'live', 'cpus'), knob(t, 'cpus').text(wide));
    assert.equal(readKnob(t, 'live', 'cpuWeight'), knob(t, 'cpuWeight').text(200));
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), String(last));
    assert.equal(readKnob(t, 'live', 'memory'), String(128 * MiB));
    assert.equal(readKnob(t, 'live', 'memoryHigh'), String(96 * MiB));
    assert.equal(readKnob(t, 'live', 'swap'), knob(t, 'swap').text(64 * MiB, 128 * MiB));
    assert.equal(t.cgroup('live', 'pids', 'pids.max'), '200');
    assert.match((await t.exec('live', 'cat /proc/self/status')).stdout, new RegExp(`Cpus_allowed_list:\\s+${last}\\n`), 'processes run on the new cpuset');

    // Lowering memory below the old memsw and then removing every limit.
    await t.host.manager.update('live', { limits: { memory: '32M' } });
    assert.equal(readKnob(t, 'live', 'memory'), String(32 * MiB));
    assert.equal(readKnob(t, 'live', 'swap'), knob(t, 'swap').text(0, 32 * MiB), 'swap unset under a memory limit: none');
    await t.host.manager.update('live', { limits: null });
    assert.equal(readKnob(t, 'live', 'cpus'), knob(t, 'cpus').text(null));
    assert.equal(t.cgroup('live', 'pids', 'pids.max'), String(DEFAULT_PIDS), "no pids limit of its own: the host's default");
    assert.equal(t.cgroup('live', 'cpuset', 'cpuset.cpus'), formatCpuList(cpus));
    assert.equal(readKnob(t, 'live', 'memory'), knob(t, 'memory').text(null));
    assert.equal((t.host.manager.get('live').runtime as LinuxRuntimeFacts).init?.pid, init, 'the same init throughout: no restart');
    assert.equal(t.host.manager.get('live').state, 'running');
  });

  it('refuses bad input with a clear error, leaving the running box and its stored config as they were', async () => {
    await t.box('steady', { memory: '64M', cpus: 1, pids: 100 });
    await t.exec('steady', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null');
    const config = structuredClone(t.host.manager.get('steady').config);
    const files = () => [readKnob(t, 'steady', 'memory'), readKnob(t, 'steady', 'cpus'), t.cgroup('steady', 'cpuset', 'cpuset.cpus')];
    const cgroupBefore = files();
    const online = new HostFacts().onlineCpus();
    const beyond = (online[online.length - 1] as number) + 1;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ memory: '4M' }, 'E_INVALID_CONFIG', /limits\.memory: 4M is below what box 'steady' uses now \(\d+(\.\d)?M\)/],
      [
        { cpuset: `0-${beyond + 5}` },
        'E_INVALID_CONFIG',
        new RegExp(`limits\\.cpuset: CPU ${beyond}-${beyond + 5} does not exist on this host \\(it has ${formatCpuList(online)}\\)`),
      ],
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

  it("refuses at create a limit this host cannot enforce, and gives a box without limits only the host's defaults", async () => {
    await assert.rejects(
      t.host.manager.create({ name: 'ionope', config: { template: 'busybox', limits: { io: [{ device: '/dev/nonexistent', writeBps: '1M' }] } } }),
      /limits\.io\[0\]\.device: \/dev\/nonexistent is not a block device on this host/,
    );
    assert.deepEqual(t.host.manager.list(), []);
    const plain = await t.box('plain', undefined);
    assert.equal(readKnob(t, 'plain', 'memory'), knob(t, 'memory').text(null));
    assert.equal(readKnob(t, 'plain', 'cpus'), knob(t, 'cpus').text(null));
    const report = t.limits.describe(plain);
    assert.deepEqual(report?.configured, {}, 'nothing configured');
    assert.equal(report?.effective?.pids, DEFAULT_PIDS, "the host's default pids limit is what it shows");
    assert.equal(report?.effective?.memory, null);
  });
});
