/** The token bucket's arithmetic and the bias it gives (pure: the controller feeds it the cgroup's figures). */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpuShareSchema } from './config-schema.js';
import { advance, biasedWeight, freshBucket } from './token-bucket.js';
import { version } from './version.js';

const cpu = cpuShareSchema.parse({ fillRate: 20, interval: 100, bucket: 20, minimum: 10, weight: 200, bias: 1 });

describe('sharing: the token bucket', () => {
  it('starts full, fills at the fill rate up to its size, drains with use, and empties when the kernel throttled the box', () => {
    let state = advance(cpu, freshBucket(cpu), { usageUsec: 0, throttledPeriods: 0 }, 0);
    assert.equal(biasedWeight(cpu, state), 400, 'full: the weight × (1 + bias)');
    state = advance(cpu, state, { usageUsec: 15_000, throttledPeriods: 0 }, 50);
    assert.equal(state.tokens, 20 + 10 - 15, '50 ms gained 10 ms, 15 ms used');
    assert.equal(biasedWeight(cpu, state), 200, 'in between: the base weight');
    state = advance(cpu, state, { usageUsec: 15_000, throttledPeriods: 0 }, 1000);
    assert.equal(state.tokens, 20, 'never above its size');
    state = advance(cpu, state, { usageUsec: 40_000, throttledPeriods: 3 }, 1100);
    assert.deepEqual([state.tokens, state.drained, biasedWeight(cpu, state)], [0, true, 100], 'throttled: drained, the weight ÷ (1 + bias)');
  });

  it('keeps a drained box down until its bucket holds the minimum again', () => {
    let state = advance(cpu, { tokens: 0, drained: true }, { usageUsec: 0, throttledPeriods: 0 }, 0);
    state = advance(cpu, state, { usageUsec: 0, throttledPeriods: 0 }, 40);
    assert.deepEqual([state.tokens, state.drained], [8, true], '8 ms < the minimum of 10');
    state = advance(cpu, state, { usageUsec: 0, throttledPeriods: 0 }, 60);
    assert.deepEqual([state.tokens, state.drained, biasedWeight(cpu, state)], [12, false, 200]);
  });

  it('has no bias at 0 and stays within the kernel’s weights', () => {
    const plain = cpuShareSchema.parse({ fillRate: 20, weight: 9000 });
    assert.equal(biasedWeight(plain, freshBucket(plain)), 9000);
    const strong = cpuShareSchema.parse({ fillRate: 20, weight: 9000, bias: 3 });
    assert.equal(biasedWeight(strong, freshBucket(strong)), 10_000);
  });

  it('keeps version.ts equal to package.json', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifest.version);
  });
});
