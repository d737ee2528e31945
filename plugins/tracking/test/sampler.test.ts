/**
 * The sampler on real boxes: cgroup figures, the whole box's processes, threads and open files
 * (counted from /proc, compared with what the box did), history that survives the host, and
 * the flight recorder's OOM kill (with its victim), pids-limit and throttling events, the
 * disk of a box's own filesystem (a disk-limit image) and its full-disk event, a seccomp denial.
 */

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AnyPlugin, contribute, definePlugin, metricsPoint } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { FINE } from '../src/history-store.js';
import type { StatsResult } from '../src/index.js';
import { openTrackingHost, sleep, type TrackingTestHost, waitFor } from './support.js';

const MiB = 2 ** 20;

describe('tracking: the sampler on real boxes', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: TrackingTestHost;

  before(function () {
    requireRoot(this, 'tracking on real boxes');
  });
  beforeEach(async () => {
    t = await openTrackingHost(cleanup);
  });

  it("counts the whole box's processes, threads and open files, and reads its cgroup figures", async () => {
    // The init holds three more files than stdio; a second process holds two more.
    const box = await t.box('census', undefined, ['sh', '-c', 'exec 3</etc/passwd 4</etc/passwd 5</etc/group; exec sleep 100000']);
    await t.exec('census', 'sleep 100000 3</etc/passwd 4</etc/group </dev/null >/dev/null 2>&1 & echo started');
    const pids = t.driver.cgroups.pids(box.id);
    assert.equal(pids.length, 2, 'the init and the background sleep');
    const [sample] = (await t.tracking.sampler?.sampleOnce()) ?? [];
    assert.ok(sample, 'the running box was sampled');
    assert.equal(sample.box, 'census');
    assert.deepEqual(sample.census, {
      processes: 2,
      threads: pids.reduce((total, pid) => total + readdirSync(`/proc/${pid}/task`).length, 0),
      openFiles: pids.reduce((total, pid) => total + readdirSync(`/proc/${pid}/fd`).length, 0),
    });
    // What the box did, not only what /proc says: the init's 3 extra files, the sleep's 2 (stdio on each).
    assert.ok(sample.census.openFiles >= 3 + 2 + 2 * 3 - 1, `open files ${sample.census.openFiles}`);
    assert.equal(sample.stats.pids.current, 2);
    assert.ok((sample.stats.memory.usage ?? 0) > 0 && (sample.stats.memory.anon ?? -1) >= 0);
    assert.equal(typeof sample.stats.cpu.usageUsec, 'number');

    // A cgroup the box made of its own (nested systemd): its processes are the box's too.
    const cgroup = t.driver.cgroups.get(box.id);
    const root = cgroup?.unifiedDir ?? cgroup?.v1Dirs['pids'];
    assert.ok(root, 'the box has a cgroup to count in');
    mkdirSync(join(root, 'inner'));
    writeFileSync(join(root, 'inner', 'cgroup.procs'), String(pids[1]));
    const [nested] = (await t.tracking.sampler?.sampleOnce()) ?? [];
    assert.equal(nested?.census.processes, 2, 'the sleep moved into the inner cgroup still counts');
  });

  it("keeps other plugins' counters for the box: in its sample, its history and its stats", async () => {
    // A plugin of the test's own contributes a counter per running box, as network does per interface.
    const widgets = definePlugin({
      name: 'widgets',
      version: '1.0.0',
      core: '^1.0.0',
      setup: () => ({
        contributions: [
          contribute(metricsPoint, {
            collect: (boxes) =>
              boxes.map((box) => ({
                name: 'nsbox_box_widgets_total',
                help: 'widgets',
                type: 'counter' as const,
                labels: { box: box.name, kind: 'blue' },
                value: 42,
              })),
          }),
        ],
      }),
    });
    const own = await openTrackingHost(cleanup, { plugins: [widgets as AnyPlugin] });
    const box = await own.box('counted');
    const [sample] = (await own.tracking.sampler?.sampleOnce()) ?? [];
    assert.deepEqual(
      sample?.contributed.map((metric) => [metric.name, metric.value]),
      [['nsbox_box_widgets_total', 42]],
      'its own metrics are not collected twice',
    );
    assert.deepEqual(own.tracking.history.latest(box.id)?.counters, { 'nsbox_box_widgets_total{kind="blue"}': 42 });
    // The action, as every face runs it (the host's BoxApi), answers from the sampler once it has two samples.
    await own.tracking.sampler?.sampleOnce();
    const result = (await new LocalBoxApi(own.host).runAction('tracking', 'stats', { box: 'counted' })) as StatsResult;
    assert.deepEqual(result.stats?.counters, { 'nsbox_box_widgets_total{kind="blue"}': 42 });
  });

  it('keeps history in both tiers, across a reopened host, and forgets it with the box', async () => {
    const box = await t.box('keeper', undefined, ['sh', '-c', 'renice -n 19 $$ >/dev/null; while :; do :; done']);
    const [first] = (await t.tracking.sampler?.sampleOnce()) ?? [];
    await sleep(1100);
    const [second] = (await t.tracking.sampler?.sampleOnce()) ?? [];
    const minute = (sample: typeof first) => Math.floor((sample?.time ?? 0) / 60_000);
    const fine = t.tracking.history.points(box.id, { since: Date.now() - 3_600_000 });
    assert.equal(fine.tier, FINE);
    // Two samples of the same minute are one fine point (unless they straddled a minute's end).
    assert.equal(fine.points.length, minute(first) === minute(second) ? 1 : 2);
    const last = fine.points.at(-1);
    assert.equal(last?.cpuUsec, second?.stats.cpu.usageUsec, 'a counter keeps the last value of its bucket');
    assert.ok((last?.cpuUsec ?? 0) > (first?.stats.cpu.usageUsec ?? 0), `the spinning box used CPU between the samples`);
    const coarse = t.tracking.history.points(box.id, { since: Date.now() - 7 * 86_400_000 });
    assert.ok(coarse.points.length >= 1 && coarse.points.length <= 2);
    assert.equal(coarse.points.at(-1)?.cpuUsec, last?.cpuUsec, 'in each tier');
    const stateDir = t.host.stateDir;
    t.host.close();
    const again = await openTrackingHost(cleanup, { stateDir, cgroupParent: t.cgroupParent });
    assert.equal(again.tracking.history.points(box.id, { since: Date.now() - 3_600_000 }).points.at(-1)?.cpuUsec, last?.cpuUsec, 'kept across hosts');
    await again.host.manager.destroy('keeper', { force: true });
    assert.equal(again.tracking.history.rowCount(box.id), 0, 'destroy removes the box history');
  });

  it('records an OOM kill with its victim, forks refused at the pids limit, and a throttling episode', async () => {
    const hog = await t.box('hog', { memory: '48M', pids: 6, cpus: 0.1 });
    // The box's throttling counters at each sample, for a failure to show.
    const throttling: string[] = [];
    const sample = async () => {
      const cpu = (await t.tracking.sampler?.sampleOnce())?.find((one) => one.box === 'hog')?.stats.cpu;
      throttling.push(`${cpu?.throttledPeriods} periods / ${cpu?.throttledUsec} µs`);
    };
    await sample();
    const killed = await t.exec('hog', 'dd if=/dev/zero of=/dev/null bs=150M count=1 2>/dev/null; echo status=$?');
    assert.equal(killed.stdout.trim(), 'status=137', 'dd is OOM-killed');
    // Six tasks at most: the init, the shell, then the sleeps until a fork is refused.
    await t.exec('hog', 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>/dev/null; wait');
    await t.exec('hog', 'timeout 2 sh -c "while :; do :; done"; true');
    await sample();
    const [oom] = t.events('hog', 'tracking.oom-kill');
    assert.equal(oom?.source, 'tracking');
    assert.equal(oom?.data['kills'], 1);
    const victims = oom?.data['victims'] as { pid: number; command: string }[];
    assert.deepEqual(
      victims.map((victim) => victim.command),
      ['dd'],
      `the victim named from the kernel log: ${JSON.stringify(oom?.data)}`,
    );
    assert.ok((victims[0]?.pid ?? 0) > 1);
    assert.ok(Number((oom?.data['memory'] as { peak?: number } | undefined)?.peak) <= 48 * MiB, 'the memory at the time');
    const [pids] = t.events('hog', 'tracking.pids-limit');
    assert.ok(Number(pids?.data['refused']) >= 1, JSON.stringify(pids?.data));
    const [throttled] = t.events('hog', 'tracking.cpu-throttled');
    assert.ok(Number(throttled?.data['periods']) > 0, 'a box at 0.1 CPU that spins is throttled');
    await sleep(300);
    await sample();
    const [ended] = t.events('hog', 'tracking.cpu-throttle-ended');
    assert.ok(
      Number(ended?.data['durationMs']) > 0 && Number(ended?.data['throttledMs']) > 0,
      `${JSON.stringify(ended?.data)}; at the samples: ${throttling.join(', ')}`,
    );
    assert.equal(t.events('hog', 'tracking.oom-kill').length, 1, 'each kill once');
    assert.equal(hog.name, 'hog');
  });

  it('gives a box that did not run its last full reading again, and reads a box that ran in full', async () => {
    await t.box('idle');
    const sampler = t.tracking.sampler;
    assert.ok(sampler);
    const of = (samples: { box: string }[]) => samples.find((one) => one.box === 'idle') as NonNullable<ReturnType<typeof sampler.latest.get>>;
    await sampler.sampleOnce(); // finds the box's cgroup: the next reading knows its CPU-time file beforehand
    const first = of(await sampler.sampleOnce());
    const second = of(await sampler.sampleOnce());
    assert.equal(second.stats, first.stats, 'its init sleeps: the same reading, not read again');
    assert.ok(second.time >= first.time);
    await t.exec('idle', 'sleep 30 </dev/null >/dev/null 2>&1 & true');
    const third = of(await sampler.sampleOnce());
    assert.notEqual(third.stats, first.stats, 'it ran: read again');
    assert.equal(third.census.processes, first.census.processes + 1, 'the sleep it left behind');
  });

  it('records a seccomp denial with the syscall, the process and its command: in the history, counted in the sample', async () => {
    await t.box('denied');
    const sampler = t.tracking.sampler;
    assert.ok(sampler);
    await sampler.sampleOnce();
    const denials = () => t.events('denied', 'tracking.seccomp-denied');
    // mount without CAP_SYS_ADMIN: isolation's profile answers EPERM before the kernel looks.
    const mount = await t.exec('denied', 'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; echo status=$?');
    assert.match(mount.stdout, /permission denied[\s\S]*status=[1-9]/, mount.stdout);
    // The record reaches /dev/kmsg through the kernel's audit thread: a round or two later.
    assert.ok(
      await waitFor(async () => (await sampler.sampleOnce()) && denials().length > 0, 5000, 100),
      `no denial event; seccomp ${JSON.stringify(sampler.seccomp)}`,
    );
    const [event] = denials();
    assert.equal(event?.source, 'tracking');
    const syscalls = event?.data['syscalls'] as { syscall: string; pid: number; command: string; action: string }[];
    const mine = syscalls.find((entry) => entry.syscall === 'mount');
    assert.ok(mine, JSON.stringify(event?.data));
    assert.equal(mine.command, 'mount');
    assert.equal(mine.action, 'errno');
    assert.ok(mine.pid > 1, 'the host pid of the caller');
    assert.ok(Number(sampler.latest.get(t.host.manager.get('denied').id)?.seccompDenials) >= 1, 'counted in the sample (stats, /metrics)');
  });

  it("reads the blocks and inodes of a box's own filesystem as df in the box does, and reports it full once", async () => {
    const box = await t.box('filler', { disk: '64M', inodes: 2000 });
    const plain = await t.box('plain');
    const df = async (flag: string) => (await t.exec('filler', `df ${flag} / | tail -1`)).stdout.trim().split(/\s+/).slice(1, 4).map(Number) as number[];
    const samples = (await t.tracking.sampler?.sampleOnce()) ?? [];
    const disk = samples.find((sample) => sample.boxId === box.id)?.disk;
    const [size, used, free] = await df('-B1');
    assert.deepEqual([disk?.sizeBytes, disk?.own], [size, true], `the image's filesystem: ${JSON.stringify(disk)}`);
    // Journal and metadata change a little between two reads: within 1 MiB of what df saw.
    assert.ok(
      Math.abs((disk?.usedBytes ?? 0) - (used as number)) < MiB && Math.abs((disk?.freeBytes ?? 0) - (free as number)) < MiB,
      JSON.stringify({ disk, used, free }),
    );
    const [inodes, inodesUsed] = await df('-i');
    assert.equal(disk?.inodes, inodes);
    assert.ok(Math.abs((disk?.inodesUsed ?? 0) - (inodesUsed as number)) <= 2, JSON.stringify({ disk, inodesUsed }));
    // A box without a disk limit: the figures of the host's filesystem that holds its root.
    const shared = samples.find((sample) => sample.boxId === plain.id)?.disk;
    const host = statfsSync(t.host.stateDir);
    assert.deepEqual([shared?.own, shared?.sizeBytes], [false, host.blocks * host.bsize]);

    const filled = await t.exec('filler', 'dd if=/dev/zero of=/fill bs=1M count=80 2>&1; echo status=$?');
    assert.match(filled.stdout, /No space left on device/);
    await t.tracking.sampler?.sampleOnce();
    await t.tracking.sampler?.sampleOnce();
    const full = t.events('filler', 'tracking.disk-full');
    assert.deepEqual(
      full.map((event) => [event.data['resource'], event.data['threshold']]),
      [['space', 95]],
      'once per episode',
    );
    assert.ok(Number(full[0]?.data['percent']) >= 95 && Number(full[0]?.data['used']) > 60 * MiB, JSON.stringify(full[0]?.data));
    assert.deepEqual(t.events('plain', 'tracking.disk-full'), []);
    const point = t.tracking.history.latest(box.id);
    assert.ok((point?.diskUsed ?? 0) > 60 * MiB && (point?.inodesUsed ?? 0) > 0, `the history keeps it: ${JSON.stringify(point)}`);
  });
});
