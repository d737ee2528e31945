import assert from 'node:assert/strict';
import type { StatsResult } from './stats-action.js';
import { topRows, topScreen } from './top-view.js';

type Entry = NonNullable<StatsResult['boxes']>[number];

function entry(box: string, cpu: number | null, io: number, net: number, memory: number): Entry {
  return {
    box,
    state: 'running',
    cpu: { percent: cpu } as Entry['cpu'],
    memory: { usage: memory } as Entry['memory'],
    processes: 1,
    io: [{ device: '254:0', readBytes: io, writeBytes: io, reads: 0, writes: 0 }],
    counters: { 'nsbox_box_network_receive_bytes_total{interface="eth0"}': net, 'nsbox_box_network_drops_total{interface="eth0"}': 5 },
  };
}

describe("nsbox top's view", () => {
  it('gives IO and network rates between two refreshes and sorts by the chosen column', () => {
    const before = { boxes: [entry('a', 10, 1000, 500, 100), entry('b', 50, 0, 0, 900)] };
    const after = { boxes: [entry('a', 20, 3000, 2500, 100), entry('b', 5, 0, 100, 900), { box: 'c', state: 'stopped' }] };
    const rows = topRows(after, before, 2, 'cpu');
    assert.deepEqual(
      rows.map((row) => [row.box, row.cpu, row.ioPerSecond, row.netPerSecond]),
      [
        ['a', 20, 2000, 1000],
        ['b', 5, 0, 50],
        ['c', null, null, null],
      ],
    );
    assert.deepEqual(
      topRows(after, before, 2, 'memory').map((row) => row.box),
      ['b', 'a', 'c'],
    );
    assert.deepEqual(
      topRows(after, undefined, 0, 'name').map((row) => [row.box, row.ioPerSecond]),
      [
        ['a', null],
        ['b', null],
        ['c', null],
      ],
      'the first refresh has no rates',
    );
    const screen = topScreen(rows, 'cpu', new Date(0));
    assert.match(screen, /^a\s+running\s+20\.0%\s+100 B\s+2\.0 KiB\/s\s+1000 B\/s\s+1$/m);
  });
});
