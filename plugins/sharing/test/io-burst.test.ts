/**
 * The IO burst allowance on a real box and its real disk (the loop device of its disk image,
 * made by the test's own host): an idle box writes its bucket at the peak rate, then the
 * controller holds it at its sustained rate (the kernel's throttle, measured on the cgroup's
 * byte counters), and after it has been idle long enough the peak comes back. v1 blkio or v2
 * io throttles, whichever the host has; direct IO (cgroup v1 throttles no buffered writeback).
 */

import assert from 'node:assert/strict';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import type { IoThrottle } from '@nsbox/runtime-api';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { IoBurstController, ShareRegistry } from '../src/index.js';
import { openSharingHost, type SharingTestHost } from './support.js';

const MiB = 2 ** 20;
const RATE = 4 * MiB;
const PEAK = 4;
const BUCKET = 16 * MiB;
const TICK_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  at: number;
  written: number;
  writeBps: number | undefined;
}

describe('sharing: the IO burst allowance', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let t: SharingTestHost;

  before(function () {
    requireRoot(this, 'IO throttles on a real disk');
  });

  beforeEach(async function () {
    t = await openSharingHost(cleanup);
    const [problem] = t.driver.resources.check({ io: { throttle: [{ device: '7:0', writeBps: RATE }] } });
    if (problem) {
      console.log(`      skipped: this host cannot throttle IO (${problem.reason})`);
      this.skip();
    }
  });

  const id = (name: string) => t.host.manager.get(name).id;
  const throttleOf = (name: string, device: string): IoThrottle | undefined =>
    t.driver.resources.effective({ id: id(name) })?.io?.throttle?.find((entry) => entry.device === device);
  const written = (name: string, device: string) => t.driver.resources.stats({ id: id(name) })?.io.find((entry) => entry.device === device)?.writeBytes ?? 0;

  it('lets an idle box write its bucket at the peak, holds it at its rate once drained, and gives the peak back after it idled', async () => {
    const burst = { writeBps: RATE, bucket: BUCKET, peak: PEAK, minimum: BUCKET / 2 };
    await t.box('bursty', { limits: { disk: '128M' }, sharing: { template: 'shared', io: { burst } } });
    const registry = new ShareRegistry(t.host.store.pluginState);
    const device = registry.get(id('bursty'))?.io?.device as string;
    assert.match(device, /^\d+:\d+$/, 'the controller counts the box’s disk');
    assert.equal(throttleOf('bursty', device)?.writeBps, RATE * PEAK, 'a new box starts with a full bucket: the peak rate');
    const info = (await new LocalBoxApi(t.host).details('bursty')).sharing as { owners: Record<string, string[]>; ioBurst: { device: string } };
    assert.deepEqual(info.owners[`io.throttle[${device}].writeBps`], ['sharing'], 'nsbox info names the owner of the throttle');
    assert.equal(info.ioBurst.device, device);

    const controller = new IoBurstController(registry, t.driver.resources, TICK_MS);
    controller.start({ debug() {}, info() {}, warn: (message: string) => console.log(message) });
    cleanup.add('stop the IO burst controller', () => controller.stop());
    const samples: Sample[] = [];
    const sampler = setInterval(
      () => samples.push({ at: Date.now(), written: written('bursty', device), writeBps: throttleOf('bursty', device)?.writeBps }),
      50,
    );
    cleanup.add('stop the sampler', () => clearInterval(sampler));
    const started = Date.now();
    const total = 40;
    const wrote = await t.exec('bursty', `dd if=/dev/zero of=/data bs=1M count=${total} oflag=direct 2>&1 && echo ok`);
    const seconds = (Date.now() - started) / 1000;
    assert.match(wrote.stdout, /ok/, wrote.stdout + wrote.stderr);

    const drainedAt = samples.find((sample) => sample.writeBps === RATE);
    assert.ok(drainedAt, 'the controller lowered the throttle to the sustained rate once the bucket ran dry');
    const before = drainedAt.written - (samples[0]?.written ?? 0);
    assert.ok(before >= BUCKET, `the box wrote its bucket before it was held back: ${(before / MiB).toFixed(1)} MiB ≥ ${BUCKET / MiB} MiB`);
    // The held phase: from a tick after the drain to the end of dd, the kernel keeps the box at its rate.
    const held = samples.filter((sample) => sample.at >= drainedAt.at + 2 * TICK_MS && sample.writeBps === RATE);
    const first = held[0] as Sample;
    const last = held.at(-1) as Sample;
    const heldRate = (last.written - first.written) / ((last.at - first.at) / 1000);
    console.log(
      `      ${total} MiB in ${seconds.toFixed(1)} s: ${(before / MiB).toFixed(1)} MiB before the drain, then ${(heldRate / MiB).toFixed(2)} MiB/s (rate ${RATE / MiB} MiB/s, peak ${(RATE * PEAK) / MiB} MiB/s)`,
    );
    assert.ok(last.at - first.at >= 1500, 'a held phase long enough to measure');
    assert.ok(heldRate <= RATE * 1.15 && heldRate >= RATE * 0.6, `held at its rate: ${(heldRate / MiB).toFixed(2)} MiB/s`);
    assert.ok(seconds < (total * MiB) / RATE, `the burst made it faster than the rate alone (${seconds.toFixed(1)} s < ${(total * MiB) / RATE} s)`);

    // Idle: the bucket saves its minimum at the rate, then the peak comes back.
    const deadline = Date.now() + ((burst.minimum / RATE) * 1000 + 3000);
    while (throttleOf('bursty', device)?.writeBps !== RATE * PEAK && Date.now() < deadline) await sleep(TICK_MS);
    assert.equal(throttleOf('bursty', device)?.writeBps, RATE * PEAK, 'the peak came back after the box idled');
  });

  it('keeps a stricter throttle of limits under the peak, and refuses a device that is not one naming the field', async () => {
    await t.box('capped', { limits: { disk: '128M' }, sharing: { template: 'shared', io: { burst: { writeBps: RATE, bucket: BUCKET } } } });
    const device = new ShareRegistry(t.host.store.pluginState).get(id('capped'))?.io?.device as string;
    await t.host.manager.update('capped', { limits: { disk: '128M', io: [{ device, writeBps: String(2 * MiB) }] } });
    assert.equal(throttleOf('capped', device)?.writeBps, 2 * MiB, 'limits’ cap (2 MiB/s) holds under the peak (16 MiB/s)');
    await assert.rejects(
      t.create('nodisk', { sharing: { template: 'shared', io: { burst: { device: '/dev/null', writeBps: RATE, bucket: BUCKET } } } }),
      (error: NsboxError) => isNsboxError(error) && /sharing\.io\.burst\.device/.test(error.message),
    );
    assert.deepEqual(
      t.host.manager.list().map((box) => box.name),
      ['capped'],
      'nothing was created',
    );
  });
});
