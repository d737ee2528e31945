import assert from 'node:assert/strict';
import { observe } from './flight-recorder.js';
import type { BoxSample } from './sample.js';

function sample(time: number, counters: { oom?: number; pids?: number; periods?: number; usec?: number; memoryAvg10?: number } = {}): BoxSample {
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
    contributed: [],
  };
}

describe('the flight recorder', () => {
  it('reports nothing on the first sample of a box: it has nothing to compare with', () => {
    assert.deepEqual(observe(sample(0, { oom: 3, pids: 2, periods: 9 }), undefined, [], 20).events, []);
  });

  it('reports an OOM kill with the victims of its own cgroup only, and refused forks', () => {
    const { trail } = observe(sample(0), undefined, [], 20);
    const victims = [
      { pid: 42, command: 'dd', memcg: '/nsbox/b1d', anonRssBytes: 4096 },
      { pid: 43, command: 'other', memcg: '/nsbox/zzz' },
    ];
    const { events } = observe(sample(1000, { oom: 1, pids: 4 }), trail, victims, 20);
    assert.deepEqual(
      events.map((event) => [event.kind, event.data]),
      [
        ['tracking.oom-kill', { box: 'web', kills: 1, total: 1, victims: [{ pid: 42, command: 'dd', anonRssBytes: 4096 }], memory: { usage: 10, peak: 20 } }],
        ['tracking.pids-limit', { box: 'web', refused: 4, total: 4, pids: 3 }],
      ],
    );
  });

  it('reports a throttling episode once when it starts and once when it ends, with its length', () => {
    let { trail } = observe(sample(0), undefined, [], 20);
    const kinds: string[] = [];
    for (const [time, periods, usec] of [
      [1000, 5, 50_000],
      [2000, 9, 90_000],
      [3000, 9, 90_000],
    ] as const) {
      const result = observe(sample(time, { periods, usec }), trail, [], 20);
      trail = result.trail;
      for (const event of result.events) kinds.push(`${event.kind} ${JSON.stringify(event.data)}`);
    }
    assert.deepEqual(kinds, [
      'tracking.cpu-throttled {"box":"web","periods":5,"throttledMs":50}',
      'tracking.cpu-throttle-ended {"box":"web","durationMs":2000,"periods":9,"throttledMs":90}',
    ]);
  });

  it('counts a lower counter as a new cgroup (the box restarted), and pressure once per episode', () => {
    const { trail } = observe(sample(0, { oom: 5 }), undefined, [], 20);
    assert.deepEqual(observe(sample(1000, { oom: 0 }), trail, [], 20).events, [], 'a restart is not a kill');
    const high = observe(sample(1000, { memoryAvg10: 35 }), trail, [], 20);
    assert.deepEqual(
      high.events.map((event) => event.kind),
      ['tracking.memory-pressure'],
    );
    assert.deepEqual(observe(sample(2000, { memoryAvg10: 40 }), high.trail, [], 20).events, [], 'still the same episode');
  });
});
