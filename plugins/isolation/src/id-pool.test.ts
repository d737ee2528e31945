import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@nsbox/store';
import sinon from 'sinon';
import { DEFAULT_POOL_START, defaultPool, parseSubIds, poolFrom, RANGE_SIZE, slotCount, slotStart } from './id-pool.js';
import { hostProcessesInRange, UidAllocator } from './uid-allocator.js';

describe('the uid pool from /etc/subuid and /etc/subgid', () => {
  it('parses name:start:count lines, skipping comments and junk', () => {
    assert.deepEqual(parseSubIds('# comment\nalice:100000:65536\n\nbroken line\nbob:x:1\nnsbox:2000000:655360\n'), [
      { owner: 'alice', start: 100000, count: 65536 },
      { owner: 'nsbox', start: 2000000, count: 655360 },
    ]);
  });

  it("takes the entries of user nsbox, else root's, else a default pool clear of every entry", () => {
    const entries = parseSubIds('root:300000:131072\nnsbox:2000000:655360\nnsbox:9000000:65536\n');
    assert.deepEqual(poolFrom(entries).ranges, [
      { start: 2000000, count: 655360 },
      { start: 9000000, count: 65536 },
    ]);
    assert.deepEqual(poolFrom(parseSubIds('root:300000:131072\n')).ranges, [{ start: 300000, count: 131072 }]);
    const users = parseSubIds('alice:1000000:65536\nbob:1065536:65536\n');
    const pool = defaultPool(users);
    assert.equal(pool.start, 1131072, 'past the entries that overlap the default start');
    assert.equal(poolFrom(users).source, 'default pool');
    assert.equal(defaultPool([]).start, DEFAULT_POOL_START);
  });

  it('numbers whole 65,536-id slots across the ranges', () => {
    const ranges = [
      { start: 100000, count: 2 * RANGE_SIZE + 5 },
      { start: 900000, count: RANGE_SIZE },
    ];
    assert.equal(slotCount(ranges), 3);
    assert.deepEqual(
      [0, 1, 2, 3].map((slot) => slotStart(ranges, slot)),
      [100000, 100000 + RANGE_SIZE, 900000, undefined],
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (const deadline = performance.now() + 5000; !condition(); ) {
    if (performance.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the uid allocator', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-test-alloc-'));
    store = new SqliteStore({ stateDir: dir });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("honours /etc/subuid and /etc/subgid: each box gets the next free slot of the pool's ranges", () => {
    writeFileSync(join(dir, 'subuid'), `nsbox:500000:${2 * RANGE_SIZE}\n`);
    writeFileSync(join(dir, 'subgid'), `root:700000:${3 * RANGE_SIZE}\n`);
    const allocator = new UidAllocator(store.pluginState, { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') });
    const a = allocator.allocate('box-a');
    const b = allocator.allocate('box-b');
    assert.deepEqual([a.uid.hostID, a.gid.hostID, b.uid.hostID, b.gid.hostID], [500000, 700000, 500000 + RANGE_SIZE, 700000 + RANGE_SIZE]);
    assert.deepEqual(allocator.allocate('box-a'), a, 'a box keeps its range');
    assert.throws(() => allocator.allocate('box-c'), /no free uid range .* 2 ranges in the pool, all in use/, 'the smaller of the two pools bounds it');
  });

  describe('a freed range rests before another box gets it', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      // Only the clock is faked: the store, the pool files and /proc are real.
      clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] });
    });
    afterEach(() => clock.restore());

    const twoSlots = () => {
      writeFileSync(join(dir, 'subuid'), `nsbox:500000:${2 * RANGE_SIZE}\n`);
      writeFileSync(join(dir, 'subgid'), `nsbox:500000:${2 * RANGE_SIZE}\n`);
      return new UidAllocator(store.pluginState, { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') }, { cooldownMs: 60_000 });
    };

    it('is not handed out during its cool-down, not even when the pool is otherwise full', () => {
      const allocator = twoSlots();
      const a = allocator.allocate('box-a');
      allocator.allocate('box-b');
      allocator.free('box-a');
      clock.tick(59_000);
      assert.throws(() => allocator.allocate('box-c'), /no free uid range .* 1 of them freed recently and resting/);
      clock.tick(1_000);
      assert.equal(allocator.allocate('box-c').uid.hostID, a.uid.hostID, 'after the cool-down the range is free again');
      assert.equal(store.pluginState.get('isolation', 'cooldown:0'), undefined, 'its rest is over');
    });

    it('goes to the back: never-used ranges first, then the longest-rested', () => {
      writeFileSync(join(dir, 'subuid'), `nsbox:500000:${4 * RANGE_SIZE}\n`);
      writeFileSync(join(dir, 'subgid'), `nsbox:500000:${4 * RANGE_SIZE}\n`);
      const allocator = new UidAllocator(store.pluginState, { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') }, { cooldownMs: 1_000 });
      const [a, b] = ['box-a', 'box-b'].map((id) => allocator.allocate(id).slot);
      allocator.free('box-b');
      clock.tick(10);
      allocator.free('box-a');
      clock.tick(5_000);
      assert.deepEqual(
        ['box-c', 'box-d', 'box-e', 'box-f'].map((id) => allocator.allocate(id).slot),
        [2, 3, b, a],
        'the unused slots, then b (freed first), then a',
      );
    });

    it('stays out while a host process still runs with one of its uids', async () => {
      const allocator = twoSlots();
      const a = allocator.allocate('box-a');
      allocator.allocate('box-b');
      // A process the old box left behind: a real host process running as a uid of the range.
      const leftover = spawn('setpriv', [`--reuid=${a.uid.hostID + 1000}`, `--regid=${a.gid.hostID + 1000}`, '--clear-groups', 'sleep', '60'], {
        stdio: 'ignore',
      });
      try {
        await waitFor(() => hostProcessesInRange({ start: a.uid.hostID, size: RANGE_SIZE }, { start: a.gid.hostID, size: RANGE_SIZE }).length > 0);
        allocator.free('box-a');
        clock.tick(120_000);
        assert.throws(() => allocator.allocate('box-c'), /freed recently and resting, or still held by host processes/);
      } finally {
        leftover.kill('SIGKILL');
        await new Promise((resolve) => leftover.once('exit', resolve));
      }
      assert.equal(allocator.allocate('box-c').uid.hostID, a.uid.hostID, 'once the process is gone, the range is free');
    });
  });

  it('finds a claim that a crashed process made but did not record', () => {
    const allocator = new UidAllocator(store.pluginState, { subuid: join(dir, 'none'), subgid: join(dir, 'none') });
    store.pluginState.claim('isolation', 'slot:3', 'box-x');
    assert.equal(allocator.allocate('box-x').slot, 3);
    assert.equal(allocator.allocate('box-y').slot, 0);
    assert.equal(allocator.allocate('box-x').uid.hostID, DEFAULT_POOL_START + 3 * RANGE_SIZE);
  });
});
