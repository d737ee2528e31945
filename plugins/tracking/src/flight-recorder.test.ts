import assert from 'node:assert/strict';
import type { DiskUsage } from './disk-usage.js';
import { observe } from './flight-recorder.js';
import type { BoxSample } from './sample.js';

const thresholds = { pressure: 20, diskFull: 95 };

function sample(
  time: number,
  counters: { oom?: number; pids?: number; periods?: number; usec?: number; memoryAvg10?: number; disk?: DiskUsage } = {},
): BoxSample {
  return {
    boxId: 'b1d',
    box: 'web',
    tenant: null,
    time,
    stats: {
      cpu: { usageUsec: 1, throttledPeriods: counters.periods ?? 0, throttledUsec: counters.usec ?? 0 },
      memory: { usage: 10, peak: 20 },
      pids: { current: 3 },
      io: [],
      ...(counters.memoryAvg10 !== undefined ? { pressure: { memory: { some: { avg10: counters.memoryAvg10, avg60: 0, avg300: 0, totalUsec: 0 } } } } : {}),
    },
    events: { oomKills: counters.oom ?? 0, pidsMax: counters.pids ?? 0 },
    census: { processes: 1, threads: 1, openFiles: 3 },
    ...(counters.disk ? { disk: counters.disk } : {}),
    contributed: [],
    pids: [],
  };
}

describe('the flight recorder', () => {
  it('reports nothing on the first sample of a box: it has nothing to compare with', () => {
    assert.deepEqual(observe(sample(0, { oom: 3, pids: 2, periods: 9 }), undefined, [], thresholds).events, []);
  });

  it('reports an OOM kill with the victims of its own cgroup only, and refused forks', () => {
    const { trail } = observe(sample(0), undefined, [], thresholds);
    const victims = [
      { pid: 42, command: 'dd', memcg: '/nsbox/b1d', anonRssBytes: 4096 },
      { pid: 43, command: 'other', memcg: '/nsbox/zzz' },
    ];
    const { events } = observe(sample(1000, { oom: 1, pids: 4 }), trail, victims, thresholds);
    assert.deepEqual(
      events.map((event) => [event.kind, event.data]),
      [
        ['tracking.oom-kill', { box: 'web', kills: 1, total: 1, victims: [{ pid: 42, command: 'dd', anonRssBytes: 4096 }], memory: { usage: 10, peak: 20 } }],
        ['tracking.pids-limit', { box: 'web', refused: 4, total: 4, pids: 3 }],
      ],
    );
  });

  /** The events of a box sampled at these [time, throttled periods, throttled µs], after a first sample at 0. */
  function throttlingEvents(points: readonly (readonly [number, number, number])[]): string[] {
    let { trail } = observe(sample(0), undefined, [], thresholds);
    const kinds: string[] = [];
    for (const [time, periods, usec] of points) {
      const result = observe(sample(time, { periods, usec }), trail, [], thresholds);
      trail = result.trail;
      for (const event of result.events) kinds.push(`${event.kind} ${JSON.stringify(event.data)}`);
    }
    return kinds;
  }

  it('reports a throttling episode once when it starts and once when it ends, with its length', () => {
    const kinds = throttlingEvents([
      [1000, 5, 50_000],
      [2000, 9, 90_000],
      [3000, 9, 90_000],
    ]);
    assert.deepEqual(kinds, [
      'tracking.cpu-throttled {"box":"web","periods":5,"throttledMs":50}',
      'tracking.cpu-throttle-ended {"box":"web","durationMs":2000,"periods":9,"throttledMs":90}',
    ]);
  });

  it("ends an episode at a throttled period that held no task back (counted after the box's last task ran)", () => {
    const kinds = throttlingEvents([
      [1000, 20, 1_800_000],
      // One more period, no throttled time: the emptied cfs_rq waited for the period timer.
      [1300, 21, 1_800_000],
    ]);
    assert.deepEqual(kinds, [
      'tracking.cpu-throttled {"box":"web","periods":20,"throttledMs":1800}',
      'tracking.cpu-throttle-ended {"box":"web","durationMs":300,"periods":21,"throttledMs":1800}',
    ]);
  });

  it('counts a lower counter as a new cgroup (the box restarted), and pressure once per episode', () => {
    const { trail } = observe(sample(0, { oom: 5 }), undefined, [], thresholds);
    assert.deepEqual(observe(sample(1000, { oom: 0 }), trail, [], thresholds).events, [], 'a restart is not a kill');
    const high = observe(sample(1000, { memoryAvg10: 35 }), trail, [], thresholds);
    assert.deepEqual(
      high.events.map((event) => event.kind),
      ['tracking.memory-pressure'],
    );
    assert.deepEqual(observe(sample(2000, { memoryAvg10: 40 }), high.trail, [], thresholds).events, [], 'still the same episode');
  });

  it("reports the space or the inodes of a box's own filesystem full once per episode, and never the host's shared one", () => {
    const disk = (usedBytes: number, inodesUsed: number, own = true): DiskUsage => ({
      sizeBytes: 1000,
      usedBytes,
      freeBytes: 1000 - usedBytes,
      inodes: 100,
      inodesUsed,
      inodesFree: 100 - inodesUsed,
      own,
    });
    let { trail } = observe(sample(0, { disk: disk(500, 10) }), undefined, [], thresholds);
    const seen: string[] = [];
    for (const [time, used, inodes] of [
      [1000, 951, 10],
      [2000, 990, 96],
      [3000, 800, 97],
      [4000, 960, 20],
    ] as const) {
      const result = observe(sample(time, { disk: disk(used, inodes) }), trail, [], thresholds);
      trail = result.trail;
      for (const event of result.events) seen.push(`${time} ${event.data['resource']} ${event.data['percent']}`);
    }
    // 951/1000 is 96 % as df rounds: full; it stays full (no second event) until it drops below.
    assert.deepEqual(seen, ['1000 space 96', '2000 inodes 96', '4000 space 96']);
    const shared = observe(sample(0, { disk: disk(10, 1, false) }), undefined, [], thresholds).trail;
    assert.deepEqual(observe(sample(1000, { disk: disk(999, 99, false) }), shared, [], thresholds).events, [], "the host's filesystem is not the box's");
    const event = observe(sample(1000, { disk: disk(999, 10) }), shared, [], thresholds).events[0];
    assert.deepEqual(event, {
      kind: 'tracking.disk-full',
      data: { box: 'web', resource: 'space', used: 999, free: 1, total: 1000, percent: 100, threshold: 95 },
    });
  });
});
