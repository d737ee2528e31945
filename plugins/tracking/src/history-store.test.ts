/** History in a real SQLite database: buckets per tier, counters and gauges merged, retention. */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlitePluginDatabases } from '@nsbox/store';
import { COARSE, FINE, HistoryStore } from './history-store.js';
import type { BoxSample } from './sample.js';
import { defaultTrackingSettings } from './settings.js';

const HOUR = 3_600_000;

function sample(boxId: string, time: number, cpuUsec: number, memory: number): BoxSample {
  return {
    boxId,
    box: boxId,
    tenant: null,
    time,
    stats: {
      cpu: { usageUsec: cpuUsec },
      memory: { usage: memory },
      pids: { current: 1 },
      io: [{ device: '254:0', readBytes: 10, writeBytes: 20, reads: 1, writes: 2 }],
    },
    events: { oomKills: 0, pidsMax: 0 },
    census: { processes: 1, threads: 2, openFiles: 3 },
    contributed: [{ name: 'nsbox_box_network_receive_bytes_total', help: '', type: 'counter', labels: { box: boxId, interface: 'eth0' }, value: cpuUsec }],
    pids: [],
  };
}

describe('tracking history', () => {
  let dir: string;
  let databases: SqlitePluginDatabases;
  let history: HistoryStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-history-'));
    databases = new SqlitePluginDatabases(dir);
    history = new HistoryStore(databases, defaultTrackingSettings);
  });
  afterEach(() => {
    databases.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes its database at the first record only: reads, forgets and prunes before it make none', () => {
    const file = join(dir, 'tracking', 'tracking.db');
    assert.deepEqual(history.points('b1', { since: 0 }, HOUR).points, []);
    assert.equal(history.latest('b1'), undefined);
    assert.equal(history.forget('b1'), 0);
    assert.equal(history.prune(HOUR, []), 0);
    assert.equal(history.sizeBytes(), 0);
    assert.equal(existsSync(file), false);
    history.record([sample('b1', HOUR, 1, 1)]);
    assert.equal(existsSync(file), true);
    // Another process's store (the CLI's) reads the agent's database without making it again.
    const other = new SqlitePluginDatabases(dir);
    try {
      assert.equal(new HistoryStore(other, defaultTrackingSettings).rowCount('b1'), 2);
    } finally {
      other.close();
    }
  });

  it('folds samples into one point per minute and per hour: counters last, gauges highest', () => {
    const base = 1_000 * HOUR; // on an hour's start
    history.record([sample('b1', base + 1_000, 100, 500)]);
    history.record([sample('b1', base + 20_000, 200, 900)]);
    history.record([sample('b1', base + 40_000, 300, 700)]);
    history.record([sample('b1', base + 61_000, 400, 100)]);
    const fine = history.points('b1', { since: base }, base + 2 * 60_000);
    assert.equal(fine.tier, FINE);
    assert.deepEqual(
      fine.points.map((point) => [point.time - base, point.cpuUsec, point.memory, point.ioReadBytes, point.counters]),
      [
        [0, 300, 900, 10, { 'nsbox_box_network_receive_bytes_total{interface="eth0"}': 300 }],
        [60_000, 400, 100, 10, { 'nsbox_box_network_receive_bytes_total{interface="eth0"}': 400 }],
      ],
    );
    const coarse = history.points('b1', { since: base - 48 * HOUR }, base + 2 * 60_000);
    assert.equal(coarse.tier, COARSE);
    assert.deepEqual(
      coarse.points.map((point) => [point.time - base, point.cpuUsec, point.memory]),
      [[0, 400, 900]],
    );
  });

  it('drops points past each retention and the points of boxes that are gone; bounded rows per box', () => {
    const now = 2_000 * HOUR;
    for (let minute = 0; minute < 3 * 24 * 60; minute += 10) history.record([sample('b1', now - minute * 60_000, minute, 1)]);
    history.record([sample('gone', now, 1, 1), sample('b1', now - 40 * 86_400_000, 1, 1)]);
    history.prune(now, ['b1']);
    assert.equal(history.rowCount('gone'), 0);
    const fine = history.points('b1', { since: now - 24 * HOUR }, now).points;
    const coarse = history.points('b1', { since: now - 31 * 86_400_000 }, now).points;
    assert.ok(fine.every((point) => point.time >= now - 24 * HOUR) && fine.length === 24 * 6 + 1, `fine: ${fine.length}`);
    assert.ok(coarse.every((point) => point.time >= now - 31 * 86_400_000) && coarse.length === 3 * 24 + 1, `coarse: ${coarse.length}`);
    assert.equal(history.rowCount('b1'), fine.length + coarse.length);
  });
});
