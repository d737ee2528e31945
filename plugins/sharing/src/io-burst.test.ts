/** The IO bucket's arithmetic and the throttle it gives (pure: the controller feeds it the cgroup's byte counters). */

import assert from 'node:assert/strict';
import { ioBurstSchema, sharingConfigSchema } from './config-schema.js';
import { advanceIo, freshIoBurst, ioThrottle } from './io-burst.js';

const MiB = 2 ** 20;
const burst = ioBurstSchema.parse({ writeBps: '4M', bucket: '16M', peak: 4 });

describe('sharing: the IO burst bucket', () => {
  it('starts full at the peak, drains by the bytes moved beyond its rate, and holds the box at its rate once dry', () => {
    let state = freshIoBurst(burst, '7:0');
    assert.deepEqual(ioThrottle(burst, state), { device: '7:0', writeBps: 16 * MiB }, 'full: the peak');
    state = advanceIo(burst, state, { read: 0, write: 0 }, 0);
    state = advanceIo(burst, state, { read: 0, write: 10 * MiB }, 1000);
    assert.equal(state.write?.tokens, 16 * MiB + 4 * MiB - 10 * MiB, '1 s gained 4 MiB, 10 MiB moved; never above the bucket');
    state = advanceIo(burst, state, { read: 0, write: 30 * MiB }, 2000);
    assert.deepEqual([state.write?.tokens, state.write?.drained], [0, true]);
    assert.deepEqual(ioThrottle(burst, state), { device: '7:0', writeBps: 4 * MiB }, 'drained: the sustained rate');
    state = advanceIo(burst, state, { read: 0, write: 30 * MiB }, 3000);
    assert.deepEqual([state.write?.tokens, state.write?.drained], [4 * MiB, true], 'below the minimum (half the bucket): still held');
    state = advanceIo(burst, state, { read: 0, write: 30 * MiB }, 4000);
    assert.deepEqual([state.write?.tokens, state.write?.drained], [8 * MiB, false], 'the minimum saved: the peak again');
  });

  it('starts counting afresh when the counter goes back (a new cgroup), and has buckets only for the directions with a rate', () => {
    let state = advanceIo(burst, freshIoBurst(burst, '7:0'), { read: 0, write: 50 * MiB }, 0);
    state = advanceIo(burst, state, { read: 0, write: MiB }, 100);
    assert.deepEqual([state.write?.tokens, state.write?.bytes], [16 * MiB, MiB]);
    assert.equal(state.read, undefined);
  });

  it('refuses a burst without a rate, a zero rate and a minimum above the bucket, naming the field', () => {
    for (const [io, path] of [
      [{ burst: { bucket: '1M' } }, 'io.burst'],
      [{ burst: { writeBps: 0, bucket: '1M' } }, 'io.burst.writeBps'],
      [{ burst: { writeBps: '1M', bucket: '1M', minimum: '2M' } }, 'io.burst.minimum'],
      [{}, 'io'],
    ] as const) {
      const result = sharingConfigSchema.safeParse({ io });
      assert.equal(result.success, false, JSON.stringify(io));
      assert.deepEqual(
        result.error?.issues.map((issue) => issue.path.join('.')),
        [path],
      );
    }
  });
});
