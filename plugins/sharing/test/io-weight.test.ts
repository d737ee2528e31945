/**
 * IO weights measured: two boxes writing to one disk with weights 1:3 share it within ± 10
 * points (25 % / 75 %). The disk is the test's own: a loop device over a file in a tmpfs the
 * test mounts, with BFQ as its scheduler and an ext4 on it that holds the test host's state
 * directory, so both boxes' own layers are on it. Direct IO, so the writes reach the device
 * from the boxes' cgroups.
 *
 * It needs the BFQ scheduler (v1 blkio.bfq.weight, v2 io.bfq.weight): this build machine's
 * kernel has none (CONFIG_IOSCHED_BFQ off, no modules), so here the test says so and skips;
 * the VM lane's Debian kernel loads it (vm/guest/suites*.txt).
 *
 * The boxes' cgroups are made by the host's driver: siblings under the test's parent with
 * cgroupfs; under systemd's (the default where systemd is PID 1 on cgroup2, the VM lane) each
 * box is a scope whose IO weight is the scope's own, against the other box's scope, and the
 * test reloads systemd before it measures: the weights must survive systemd writing them again.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { openSharingHost, type SharingTestHost } from './support.js';

const MiB = 2 ** 20;
const run = (command: string, ...args: string[]) => execFileSync(command, args, { encoding: 'utf8' }).trim();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether BFQ is a scheduler this kernel offers for `disk` (sda, loop3), after trying to load its module. */
function bfqFor(disk: string): boolean {
  const schedulers = () => readFileSync(`/sys/block/${disk}/queue/scheduler`, 'utf8');
  if (/\bbfq\b/.test(schedulers())) return true;
  try {
    execFileSync('modprobe', ['bfq'], { stdio: 'ignore' });
  } catch {
    // no module tools or no module: the check below says so
  }
  return /\bbfq\b/.test(schedulers());
}

describe('sharing: IO weights on a disk of the test’s own', function () {
  this.timeout(180_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;
  let device: string;

  before(function () {
    requireRoot(this, 'IO weights on a real disk');
  });

  beforeEach(async function () {
    const base = makeTempDir(cleanup, 'io-weight');
    const ram = join(base, 'ram');
    const state = join(base, 'state');
    mkdirSync(ram);
    mkdirSync(state);
    run('mount', '-t', 'tmpfs', '-o', 'size=600M', 'nsbox-test-io-weight', ram);
    cleanup.add(`unmount ${ram}`, () => run('umount', ram));
    writeFileSync(join(ram, 'disk'), '');
    run('truncate', '-s', '512M', join(ram, 'disk'));
    const loop = run('losetup', '--find', '--show', join(ram, 'disk'));
    cleanup.add(`detach ${loop}`, () => run('losetup', '-d', loop));
    const disk = loop.replace('/dev/', '');
    device = readFileSync(`/sys/block/${disk}/dev`, 'utf8').trim();
    if (!bfqFor(disk)) {
      console.log(`      skipped: this kernel has no BFQ scheduler for ${loop} (${readFileSync(`/sys/block/${disk}/queue/scheduler`, 'utf8').trim()})`);
      this.skip();
    }
    writeFileSync(`/sys/block/${disk}/queue/scheduler`, 'bfq');
    // No boost for new processes (BFQ's low_latency weight-raising): each dd below is one, and only the weights should count.
    writeFileSync(`/sys/block/${disk}/queue/iosched/low_latency`, '0');
    // Each dd has one write in flight: BFQ holds a weight only by waiting for a queue's next
    // write (slice_idle, 8 ms) rather than serving the other box. In the VM lane's TCG guest on
    // a loaded host that write can come later (the guest's timer interrupts took 15 ms), and
    // BFQ switching queues drifts towards 50 / 50. This disk is the test's own: it waits longer.
    writeFileSync(`/sys/block/${disk}/queue/iosched/slice_idle`, '100');
    run('mkfs.ext4', '-q', loop);
    run('mount', loop, state);
    // The host's cleanup (openSharingHost) unmounts what is under its state dir, this mount too.
    cleanup.add(`unmount ${state}`, () => spawnSync('umount', [state], { stdio: 'ignore' }));
    t = await openSharingHost(cleanup, { stateDir: state });
    const [problem] = t.driver.resources.check({ io: { weight: 100 } });
    if (problem) {
      console.log(`      skipped: this host cannot weigh IO (${problem.reason})`);
      this.skip();
    }
  });

  const written = (name: string) => t.driver.resources.stats({ id: t.host.manager.get(name).id })?.io.find((entry) => entry.device === device)?.writeBytes ?? 0;

  it('gives two boxes writing with weights 1:3 a quarter and three quarters of the disk, ± 10 points', async () => {
    await t.box('light', { sharing: { template: 'shared', io: { weight: 100 } } });
    await t.box('heavy', { sharing: { template: 'shared', io: { weight: 300 } } });
    const id = (name: string) => t.host.manager.get(name).id;
    const bfqWeight = (name: string) => /^default (\d+)$/m.exec(t.driver.cgroups.read(id(name), 'io', 'io.bfq.weight'))?.[1];
    if (t.driver.cgroups.get(id('heavy'))?.fileDirs?.['io.bfq.weight'] !== undefined) {
      // systemd's driver: systemd writes a scope's io.bfq.weight again from its IOWeight whenever
      // it realizes the scope, as at a daemon-reload. The weights must be nsbox's after it.
      execFileSync('systemctl', ['daemon-reload']);
    }
    assert.deepEqual([bfqWeight('light'), bfqWeight('heavy')], ['100', '300'], "the boxes' BFQ weights, as set");
    assert.deepEqual(
      [t.driver.resources.effective({ id: id('light') })?.io?.weight, t.driver.resources.effective({ id: id('heavy') })?.io?.weight],
      [100, 300],
      'what the kernel enforces, as nsbox info shows it',
    );
    const seconds = 12;
    // Each rewrites its own 96 MiB file in direct IO, for as long as the measurement needs.
    const writer = `end=$(( $(date +%s) + ${seconds} )); while [ $(date +%s) -lt $end ]; do dd if=/dev/zero of=/data bs=256k count=384 oflag=direct conv=notrunc 2>/dev/null; done; echo done`;
    const writing = Promise.all([t.exec('light', writer), t.exec('heavy', writer)]);
    await sleep(3000); // both queues busy and BFQ weighing them
    const start = { light: written('light'), heavy: written('heavy') };
    await sleep(6000);
    const end = { light: written('light'), heavy: written('heavy') };
    const results = await writing;
    for (const result of results) assert.match(result.stdout, /done/, result.stderr);
    const light = end.light - start.light;
    const heavy = end.heavy - start.heavy;
    const share = heavy / (light + heavy);
    console.log(
      `      weights 1:3 on a BFQ loop device: light ${(light / MiB).toFixed(1)} MiB, heavy ${(heavy / MiB).toFixed(1)} MiB in 6 s: ${(100 * (1 - share)).toFixed(1)} % / ${(100 * share).toFixed(1)} %`,
    );
    assert.ok(light + heavy >= 16 * MiB, 'both wrote enough to measure');
    assert.ok(Math.abs(share - 0.75) <= 0.1, `the heavy box's share ${(100 * share).toFixed(1)} % is 75 % ± 10`);
  });
});
